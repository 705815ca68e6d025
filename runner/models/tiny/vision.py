"""Tiny vision models: ViT classification, a ViT-GPT2 captioner, LLaVA, YOLOS detection and ViLT VQA."""

from __future__ import annotations

from pathlib import Path

from runner.models.tiny.common import (
    DETECTION_LABELS,
    IMAGE_LABELS,
    VQA_LABELS,
    image_processor_class,
    label_config,
    save,
    seed_torch,
    task_generation_params,
)
from runner.models.tiny.registry import builds
from runner.models.tiny.vocab import ENDOFTEXT, byte_bpe_tokenizer, clip_tokenizer, wordpiece_tokenizer

IMAGE_TOKEN = "<image>"


def _vit_config(**kwargs):
    from transformers import ViTConfig

    return ViTConfig(
        image_size=32,
        patch_size=8,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        **kwargs,
    )


def _vit_image_processor():
    return image_processor_class("ViTImageProcessor")(size={"height": 32, "width": 32})


@builds("vit", tasks=("image-classification",))
def _build_vit(task: str, out: Path, seed: int) -> None:
    from transformers import ViTForImageClassification

    config = _vit_config(**label_config(IMAGE_LABELS))
    seed_torch(seed)
    save(out, ViTForImageClassification(config), _vit_image_processor())


@builds("vit_gpt2", tasks=("image-to-text",))
def _build_vit_gpt2(task: str, out: Path, seed: int) -> None:
    from transformers import (
        GenerationConfig,
        GPT2Config,
        VisionEncoderDecoderConfig,
        VisionEncoderDecoderModel,
        VisionTextDualEncoderProcessor,
    )

    # add_bos_token: the transformers-5 image-text-to-text pipeline needs a text prompt and turns its
    # input_ids into the decoder prompt; with a bos token, text="" becomes [bos] instead of an empty
    # tensor (which fails with "IndexError: index 0 is out of bounds for dimension 1 with size 0").
    tok = byte_bpe_tokenizer(out / ".vocab", add_bos_token=True)
    eot = tok.convert_tokens_to_ids(ENDOFTEXT)
    decoder_config = GPT2Config(
        vocab_size=len(tok),
        n_embd=32,
        n_layer=2,
        n_head=2,
        n_positions=128,
        n_inner=64,
        add_cross_attention=True,
        is_decoder=True,
        bos_token_id=eot,
        eos_token_id=eot,
        pad_token_id=eot,
        # untied: a tied random head just repeats its input token, i.e. <|endoftext|> = eos = an empty caption
        tie_word_embeddings=False,
    )
    config = VisionEncoderDecoderConfig.from_encoder_decoder_configs(_vit_config(), decoder_config)
    config.decoder_start_token_id = eot
    config.pad_token_id = eot
    config.eos_token_id = eot
    config.tie_word_embeddings = False
    config.task_specific_params = task_generation_params(["image-to-text"], max_new_tokens=8)
    seed_torch(seed)
    model = VisionEncoderDecoderModel(config=config)
    model.generation_config = GenerationConfig(
        max_new_tokens=8,
        do_sample=False,
        decoder_start_token_id=eot,
        bos_token_id=eot,
        eos_token_id=eot,
        pad_token_id=eot,
    )
    image_processor = _vit_image_processor()
    # transformers 5 serves captioning through image-text-to-text, which loads a ProcessorMixin;
    # VisionTextDualEncoderProcessor is the generic "image processor + tokenizer" one. The 4.x
    # image-to-text pipeline ignores it and loads the image processor and tokenizer separately.
    processor = VisionTextDualEncoderProcessor(image_processor=image_processor, tokenizer=tok)
    save(out, model, processor)


_LLAVA_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ message['role'] | upper }}: "
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for item in message['content'] %}"
    "{% if item['type'] == 'image' %}<image> {% elif item['type'] == 'text' %}{{ item['text'] }}{% endif %}"
    "{% endfor %}{% endif %}\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}ASSISTANT:{% endif %}"
)


@builds("llava", tasks=("image-text-to-text",))
def _build_llava(task: str, out: Path, seed: int) -> None:
    from transformers import (
        CLIPVisionConfig,
        GenerationConfig,
        LlamaConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
    )

    tok = byte_bpe_tokenizer(out / ".vocab", extra_special=(IMAGE_TOKEN,))
    eot = tok.convert_tokens_to_ids(ENDOFTEXT)
    image_token_id = tok.convert_tokens_to_ids(IMAGE_TOKEN)
    vision = CLIPVisionConfig(
        image_size=32,
        patch_size=8,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        projection_dim=32,
    )
    text = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=256,
        bos_token_id=eot,
        eos_token_id=eot,
        pad_token_id=eot,
    )
    config = LlavaConfig(
        vision_config=vision,
        text_config=text,
        image_token_id=image_token_id,
        vision_feature_select_strategy="default",
        vision_feature_layer=-2,
        # rotary positions do not overflow, but 4.x would otherwise generate 256 tokens, not 8
        task_specific_params=task_generation_params(["image-text-to-text"], max_new_tokens=8),
    )
    seed_torch(seed)
    model = LlavaForConditionalGeneration(config)
    model.generation_config = GenerationConfig(
        max_new_tokens=8,
        do_sample=False,
        bos_token_id=eot,
        eos_token_id=eot,
        pad_token_id=eot,
    )
    image_processor = image_processor_class("CLIPImageProcessor")(
        size={"shortest_edge": 32},
        crop_size={"height": 32, "width": 32},
    )
    processor = LlavaProcessor(
        image_processor=image_processor,
        tokenizer=tok,
        patch_size=8,
        vision_feature_select_strategy="default",
        # the CLIP tower adds a CLS token; "default" drops it again: 16 patches -> 16 <image> tokens
        num_additional_image_tokens=1,
        image_token=IMAGE_TOKEN,
        chat_template=_LLAVA_CHAT_TEMPLATE,
    )
    save(out, model, processor)


@builds("yolos", tasks=("object-detection",))
def _build_yolos(task: str, out: Path, seed: int) -> None:
    from transformers import YolosConfig, YolosForObjectDetection

    config = YolosConfig(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        image_size=[32, 32],
        patch_size=8,
        num_detection_tokens=5,
        use_mid_position_embeddings=False,
        **label_config(DETECTION_LABELS),
    )
    seed_torch(seed)
    model = YolosForObjectDetection(config)
    image_processor = image_processor_class("YolosImageProcessor")(size={"shortest_edge": 32, "longest_edge": 64})
    save(out, model, image_processor)


@builds("vilt", tasks=("visual-question-answering",))
def _build_vilt(task: str, out: Path, seed: int) -> None:
    """Visual QA: no pipeline in transformers 5 (the runner provides its own); 4.x runs it natively."""
    from transformers import ViltConfig, ViltForQuestionAnswering, ViltProcessor

    positions = 40  # text positions, as dandelin/vilt-b32-finetuned-vqa
    tok = wordpiece_tokenizer(out / ".vocab", distilbert=False, model_max_length=positions)
    config = ViltConfig(
        vocab_size=len(tok),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        image_size=64,
        patch_size=16,
        max_position_embeddings=positions,
        pad_token_id=tok.pad_token_id,
        **label_config(VQA_LABELS),
    )
    seed_torch(seed)
    model = ViltForQuestionAnswering(config)
    image_processor = image_processor_class("ViltImageProcessor")(size={"shortest_edge": 64}, size_divisor=32)
    save(out, model, ViltProcessor(image_processor=image_processor, tokenizer=tok))


SEGMENT_LABELS = ("background", "person", "car")


@builds("segformer", tasks=("image-segmentation",))
def _build_segformer(task: str, out: Path, seed: int) -> None:
    """Semantic segmentation needing neither timm nor torchvision (DETR panoptic, transformers' default
    family, needs a ResNet backbone). Semantic models give one mask per class present, score None."""
    from transformers import SegformerConfig, SegformerForSemanticSegmentation

    config = SegformerConfig(
        num_channels=3,
        num_encoder_blocks=2,
        depths=[1, 1],
        sr_ratios=[2, 1],
        hidden_sizes=[16, 32],
        patch_sizes=[7, 3],
        strides=[4, 2],
        num_attention_heads=[1, 2],
        mlp_ratios=[2, 2],
        decoder_hidden_size=32,
        **label_config(SEGMENT_LABELS),
    )
    seed_torch(seed)
    model = SegformerForSemanticSegmentation(config)
    # Logits come out at 1/4 of 32x32; post-processing resizes them to the input, so masks are its size.
    processor = image_processor_class("SegformerImageProcessor")(
        size={"height": 32, "width": 32}, do_reduce_labels=False
    )
    save(out, model, processor)


# CLIP and OWL-ViT text towers: 256 positions, not CLIP's 77, since one byte is one token here.
CLIP_TEXT_POSITIONS = 256
# 32x32 images in 8x8 patches: OWL-ViT then proposes 16 boxes per label.
SMALL_IMAGE, SMALL_PATCH = 32, 8
# OWL-ViT's class-logit shift after re-drawing its heads: scores land around the default threshold 0.1.
OWLVIT_LOGIT_SHIFT = -2.0


def _clip_configs(
    vocab_size: int, bos: int, eos: int, pad: int, image_size: int = SMALL_IMAGE, patch_size: int = SMALL_PATCH
):
    from transformers import CLIPTextConfig, CLIPVisionConfig

    text = CLIPTextConfig(
        vocab_size=vocab_size,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        max_position_embeddings=CLIP_TEXT_POSITIONS,
        projection_dim=32,
        # eos_token_id != 2: the text tower pools the first <|endoftext|> (the "== 2" legacy path uses argmax)
        bos_token_id=bos,
        eos_token_id=eos,
        pad_token_id=pad,
    )
    vision = CLIPVisionConfig(
        image_size=image_size,
        patch_size=patch_size,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        projection_dim=32,
    )
    return text, vision


@builds("clip", tasks=("zero-shot-image-classification",))
def _build_clip(task: str, out: Path, seed: int) -> None:
    from transformers import CLIPConfig, CLIPModel, CLIPProcessor

    tok = clip_tokenizer(out / ".vocab", model_max_length=CLIP_TEXT_POSITIONS)
    text, vision = _clip_configs(len(tok), tok.bos_token_id, tok.eos_token_id, tok.pad_token_id)
    # CLIPConfig.from_text_vision_configs is deprecated in 5.x; passing the configs as dicts works in both
    config = CLIPConfig(text_config=text.to_dict(), vision_config=vision.to_dict(), projection_dim=32)
    seed_torch(seed)
    model = CLIPModel(config)
    # resize to 32, then centre-crop 32x32 (openai/clip: 224/224)
    image_processor = image_processor_class("CLIPImageProcessor")(
        size={"shortest_edge": 32},
        crop_size={"height": 32, "width": 32},
    )
    # The pipeline loads tokenizer and image processor separately (_load_processor = False, both versions);
    # the processor is saved for users of AutoProcessor (and writes preprocessor_config.json via save).
    save(out, model, CLIPProcessor(image_processor=image_processor, tokenizer=tok))


def _calm_heads(model) -> None:
    """Re-draw the detection heads at std 0.02 (as the rest of OWL-ViT), zero biases.

    The box and class heads are plain nn.Linear layers that OWL-ViT's _init_weights leaves at PyTorch's
    default (kaiming-uniform) init. Random 32-wide heads then give class logits around -35 (every score
    sigmoid -> 0.0: the pipeline returns [] for every image at the default threshold 0.1, even at
    threshold=0.0 only "0.0" scores) and box logits of +-20 (degenerate boxes of width 0 or of the
    whole image). After this, each box is its patch's prior box (OWL-ViT's box_bias: the 4x4 patch grid)
    nudged a little by the image, and scores sit around the default threshold.
    """
    import torch

    heads = [
        model.box_head.dense0,
        model.box_head.dense1,
        model.box_head.dense2,
        model.class_head.dense0,
        model.class_head.logit_shift,
        model.class_head.logit_scale,
    ]
    with torch.no_grad():
        for layer in heads:
            layer.weight.normal_(mean=0.0, std=0.02)
            layer.bias.zero_()
        model.class_head.logit_shift.bias.fill_(OWLVIT_LOGIT_SHIFT)  # logit_scale: elu(~0) + 1 = ~1


@builds("owlvit", tasks=("zero-shot-object-detection",))
def _build_owlvit(task: str, out: Path, seed: int) -> None:
    from transformers import OwlViTConfig, OwlViTForObjectDetection, OwlViTProcessor

    # pad "!" (id 0) as google/owlvit; <|endoftext|> has the highest id, which OWL-ViT's text tower
    # needs: it pools the token at input_ids.argmax() (both versions).
    tok = clip_tokenizer(out / ".vocab", model_max_length=CLIP_TEXT_POSITIONS, pad_token="!")
    text = dict(
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        max_position_embeddings=CLIP_TEXT_POSITIONS,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )
    vision = dict(
        image_size=SMALL_IMAGE,
        patch_size=SMALL_PATCH,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
    )
    config = OwlViTConfig(text_config=text, vision_config=vision, projection_dim=32)
    seed_torch(seed)
    model = OwlViTForObjectDetection(config)
    _calm_heads(model)
    # google/owlvit: resize (squash) to 768x768, no centre crop
    image_processor = image_processor_class("OwlViTImageProcessor")(
        size={"height": SMALL_IMAGE, "width": SMALL_IMAGE},
        crop_size={"height": SMALL_IMAGE, "width": SMALL_IMAGE},
        do_center_crop=False,
    )
    # The pipeline loads tokenizer and image processor separately (_load_processor = False, both versions).
    save(out, model, OwlViTProcessor(image_processor=image_processor, tokenizer=tok))


def _lively_head(model) -> None:
    """Make the random depth map vary enough to survive the pipeline's min-max normalisation.

    DPT's _init_weights draws the neck and head convolutions at std 0.02; through 2 reassemble + 2 fusion
    stages and 3 head convolutions the signal shrinks to ~1e-9, and the head ends in a ReLU, so
    predicted_depth is 0 almost everywhere (max ~9e-9 for seed 0). The pipeline then computes
    (d - min) / (max - min) on a nearly (or exactly) constant map: NaNs ("RuntimeWarning: invalid value
    encountered in divide") and a meaningless `depth` image. Here the neck and head convolutions get
    PyTorch's default init (kaiming-uniform) and the last convolution a bias of 1: depth ~1 +- 0.03,
    positive everywhere, depending on the image.
    """
    import torch

    convs = (torch.nn.Conv2d, torch.nn.ConvTranspose2d)
    with torch.no_grad():
        for module in [*model.neck.modules(), *model.head.modules()]:
            if isinstance(module, convs):
                module.reset_parameters()
        last = [m for m in model.head.modules() if isinstance(m, torch.nn.Conv2d)][-1]
        last.bias.fill_(1.0)


@builds("dpt", tasks=("depth-estimation",))
def _build_dpt(task: str, out: Path, seed: int) -> None:
    from transformers import DPTConfig, DPTForDepthEstimation

    # ViT backbone (not the hybrid BiT one), 2 layers; DPT-large reads 4 layers (5, 11, 17, 23) through
    # 4 reassemble stages (factors 4, 2, 1, 0.5). Two stages are enough: backbone_out_indices,
    # reassemble_factors and neck_hidden_sizes only have to be of equal length ("The number of hidden
    # states should be equal to the number of neck hidden sizes" otherwise).
    config = DPTConfig(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        image_size=SMALL_IMAGE,
        patch_size=SMALL_PATCH,
        backbone_out_indices=[0, 1],
        reassemble_factors=[2, 1],
        neck_hidden_sizes=[16, 32],
        fusion_hidden_size=16,
        use_auxiliary_head=False,
    )
    seed_torch(seed)
    model = DPTForDepthEstimation(config)
    _lively_head(model)
    # Intel/dpt-large: squash to 384x384 (keep_aspect_ratio=False), mean/std 0.5
    image_processor = image_processor_class("DPTImageProcessor")(
        size={"height": SMALL_IMAGE, "width": SMALL_IMAGE},
        keep_aspect_ratio=False,
        ensure_multiple_of=1,
        image_mean=[0.5, 0.5, 0.5],
        image_std=[0.5, 0.5, 0.5],
    )
    save(out, model, image_processor)
