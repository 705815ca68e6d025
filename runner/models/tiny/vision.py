"""Tiny vision models: ViT classification, a ViT-GPT2 captioner, LLaVA, YOLOS detection and ViLT VQA."""
from __future__ import annotations

from pathlib import Path

from runner.models.tiny.common import (
    DETECTION_LABELS, IMAGE_LABELS, VQA_LABELS, image_processor_class, label_config, save, seed_torch,
    task_generation_params,
)
from runner.models.tiny.registry import builds
from runner.models.tiny.vocab import ENDOFTEXT, byte_bpe_tokenizer, wordpiece_tokenizer

IMAGE_TOKEN = "<image>"


def _vit_config(**kwargs):
    from transformers import ViTConfig

    return ViTConfig(
        image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, **kwargs,
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
        GenerationConfig, GPT2Config, VisionEncoderDecoderConfig, VisionEncoderDecoderModel,
        VisionTextDualEncoderProcessor,
    )

    # add_bos_token: the transformers-5 image-text-to-text pipeline needs a text prompt and turns its
    # input_ids into the decoder prompt; with a bos token, text="" becomes [bos] instead of an empty
    # tensor (which fails with "IndexError: index 0 is out of bounds for dimension 1 with size 0").
    tok = byte_bpe_tokenizer(out / ".vocab", add_bos_token=True)
    eot = tok.convert_tokens_to_ids(ENDOFTEXT)
    decoder_config = GPT2Config(
        vocab_size=len(tok), n_embd=32, n_layer=2, n_head=2, n_positions=128, n_inner=64,
        add_cross_attention=True, is_decoder=True, bos_token_id=eot, eos_token_id=eot, pad_token_id=eot,
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
        max_new_tokens=8, do_sample=False, decoder_start_token_id=eot, bos_token_id=eot,
        eos_token_id=eot, pad_token_id=eot,
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
        CLIPVisionConfig, GenerationConfig, LlamaConfig, LlavaConfig, LlavaForConditionalGeneration,
        LlavaProcessor,
    )

    tok = byte_bpe_tokenizer(out / ".vocab", extra_special=(IMAGE_TOKEN,))
    eot = tok.convert_tokens_to_ids(ENDOFTEXT)
    image_token_id = tok.convert_tokens_to_ids(IMAGE_TOKEN)
    vision = CLIPVisionConfig(
        image_size=32, patch_size=8, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=2, projection_dim=32,
    )
    text = LlamaConfig(
        vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
        num_key_value_heads=2, max_position_embeddings=256, bos_token_id=eot, eos_token_id=eot, pad_token_id=eot,
    )
    config = LlavaConfig(
        vision_config=vision, text_config=text, image_token_id=image_token_id,
        vision_feature_select_strategy="default", vision_feature_layer=-2,
        # rotary positions do not overflow, but 4.x would otherwise generate 256 tokens, not 8
        task_specific_params=task_generation_params(["image-text-to-text"], max_new_tokens=8),
    )
    seed_torch(seed)
    model = LlavaForConditionalGeneration(config)
    model.generation_config = GenerationConfig(
        max_new_tokens=8, do_sample=False, bos_token_id=eot, eos_token_id=eot, pad_token_id=eot,
    )
    image_processor = image_processor_class("CLIPImageProcessor")(
        size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32},
    )
    processor = LlavaProcessor(
        image_processor=image_processor, tokenizer=tok, patch_size=8, vision_feature_select_strategy="default",
        # the CLIP tower adds a CLS token; "default" drops it again: 16 patches -> 16 <image> tokens
        num_additional_image_tokens=1, image_token=IMAGE_TOKEN, chat_template=_LLAVA_CHAT_TEMPLATE,
    )
    save(out, model, processor)


@builds("yolos", tasks=("object-detection",))
def _build_yolos(task: str, out: Path, seed: int) -> None:
    from transformers import YolosConfig, YolosForObjectDetection

    config = YolosConfig(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
        image_size=[32, 32], patch_size=8, num_detection_tokens=5, use_mid_position_embeddings=False,
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
        vocab_size=len(tok), hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
        image_size=64, patch_size=16, max_position_embeddings=positions, pad_token_id=tok.pad_token_id,
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
        num_channels=3, num_encoder_blocks=2, depths=[1, 1], sr_ratios=[2, 1], hidden_sizes=[16, 32],
        patch_sizes=[7, 3], strides=[4, 2], num_attention_heads=[1, 2], mlp_ratios=[2, 2],
        decoder_hidden_size=32, **label_config(SEGMENT_LABELS),
    )
    seed_torch(seed)
    model = SegformerForSemanticSegmentation(config)
    # Logits come out at 1/4 of 32x32; post-processing resizes them to the input, so masks are its size.
    processor = image_processor_class("SegformerImageProcessor")(size={"height": 32, "width": 32}, do_reduce_labels=False)
    save(out, model, processor)

