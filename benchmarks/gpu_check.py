"""The GPU check (issue 17): what only a CUDA machine can show, in one Markdown report.

    bash scripts/gpu_check.sh [report.md]      # installs what is missing, then runs this module
    python -m benchmarks.gpu_check --report report.md [--memory-gb 24] [--no-smoke]

Sections, each timed and each failing alone (the rest still run; the exit status is 1 if any failed):
  environment          torch, CUDA device, library versions
  GPU tests            `pytest -m gpu` on the test files that hold such tests
  dtypes (tiny)        float16 and bfloat16 against float32 outputs, tiny text-classification and GPT-2
  dtypes (no_weights)  the same on `model.no_weights=true` at distilbert-base's shape (random weights
                       drawn from the same seed in each dtype)
  bitsandbytes         8-bit and 4-bit against float16 on CUDA, distilbert-base's shape with saved weights
  out of memory        benchmarks/gpu_oom.py: a real OOM sweep and batch_size=auto against what fits
  fp16 throughput      runner vs raw `pipeline()` in float16 on CUDA, same texts and batch size
  smoke benchmark      `benchmarks/run.py --smoke` (CPU only: on CUDA the parts would compare devices)
Without CUDA the CUDA-only sections print "skipped: no CUDA device"; dtypes run on the CPU, the OOM
section as a dry run with injected out-of-memory, and the command exits 0 when nothing failed.
"""

from __future__ import annotations

import argparse
import datetime
import math
import os
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.gpu_models import DISTILBERT_BASE, config_folder, random_weights_folder  # noqa: E402

TEXTS = [
    "I loved this film.",
    "The delivery arrived two weeks late and the box was broken.",
    "How do I reset it?",
    "An utterly forgettable, overlong and badly acted sequel that nobody asked for, with a plot full of holes.",
    "Fine.",
    "The support team answered within minutes and fixed everything.",
] * 3


class Skipped(Exception):
    """A section that cannot run here; its message is the report's line."""


@dataclass
class Check:
    cuda: bool
    work: Path
    memory_gb: float
    smoke: bool

    @property
    def device(self) -> str:
        return "cuda" if self.cuda else "cpu"

    def need_cuda(self) -> None:
        if not self.cuda:
            raise Skipped("skipped: no CUDA device")

    def run(self, name: str, overrides: list[str]):
        """runner.run over TEXTS, in this process (each call a fresh run dir)."""
        import runner

        return runner.run(
            ["progress=false", "batch_size=6", f"device={self.device}", *overrides],
            inputs=TEXTS,
            output_dir=self.work / name,
        )


def environment(check: Check) -> list[str]:
    import torch
    import transformers

    lines = [
        f"- torch {torch.__version__} (CUDA {torch.version.cuda}), transformers {transformers.__version__}, "
        f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs"
    ]
    if check.cuda:
        props = torch.cuda.get_device_properties(0)
        lines.append(
            f"- {props.name}, {props.total_memory / 2**30:.0f} GiB, compute capability {props.major}.{props.minor}"
        )
    try:
        import bitsandbytes

        lines.append(f"- bitsandbytes {bitsandbytes.__version__}")
    except Exception as error:  # noqa: BLE001 - reported, not fatal
        lines.append(f"- bitsandbytes not importable: {type(error).__name__}: {error}")
    return lines


def gpu_tests(check: Check) -> list[str]:
    check.need_cuda()
    files = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests").rglob("test_*.py") if "mark.gpu" in p.read_text())
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-m", "gpu", "-p", "no:cacheprovider", *files],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    tail = (done.stdout + done.stderr).strip().splitlines()[-25:]
    if done.returncode != 0:
        raise RuntimeError("pytest -m gpu failed:\n" + "\n".join(tail))
    return [f"`pytest -m gpu {' '.join(files)}`: exit 0", "", "```", *tail[-5:], "```"]


def outputs(result) -> list:
    return [row["output"] for row in result.predictions]


def difference(reference: list, other: list) -> str:
    """Classification: labels equal and the largest score difference; otherwise outputs identical."""
    if reference and isinstance(reference[0], dict) and "score" in reference[0]:
        labels = sum(a["label"] == b["label"] for a, b in zip(reference, other)) / len(reference)
        scores = [abs(a["score"] - b["score"]) for a, b in zip(reference, other)]
        finite = all(math.isfinite(b["score"]) for b in other)
        return f"labels equal {labels:.0%}, max score diff {max(scores):.1e}" + ("" if finite else ", NOT finite")
    return f"outputs identical {sum(a == b for a, b in zip(reference, other)) / len(reference):.0%}"


DTYPES = ("dtype=float32", "dtype=float16", "dtype=bfloat16")


def compare_dtypes(check: Check, label: str, base: list[str], settings=DTYPES) -> list[str]:
    """One run per setting (override strings, space-separated); each compared with the first."""
    memory = "cuda_max_allocated_mb" if check.cuda else "peak_rss_mb"
    rows = [f"| model | setting | vs {settings[0]} | items/s | {memory} |", "|---|---|---|---:|---:|"]
    results = {s: check.run(f"{label} {s}".replace(" ", "_").replace("=", "-"), [*base, *s.split()]) for s in settings}
    for setting, result in results.items():
        rows.append(
            f"| {label} | {setting} | {difference(outputs(results[settings[0]]), outputs(result))} | "
            f"{result.metrics['items_per_second']} | {result.metrics.get(memory)} |"
        )
    return rows


def dtypes_tiny(check: Check) -> list[str]:
    classify = compare_dtypes(check, "tiny text-classification", ["+task=text-classification", "model=tiny"])
    generate = compare_dtypes(
        check,
        "tiny GPT-2",
        ["+task=text-generation", "model=tiny", "task.params.max_new_tokens=8", "task.params.do_sample=false"],
    )
    return [
        f"Device: {check.device}. {len(TEXTS)} texts, batch 6; GPT-2 greedy, 8 new tokens.",
        "",
        *classify,
        *generate[2:],
    ]


def dtypes_no_weights(check: Check) -> list[str]:
    folder = config_folder("text-classification", DISTILBERT_BASE, check.work / "distilbert-base-shape")
    base = ["+task=text-classification", f"model.id={folder}", "model.no_weights=true"]
    return [
        f"Device: {check.device}. distilbert-base's shape built from its config (`model.no_weights=true`).",
        "",
        *compare_dtypes(check, "no_weights distilbert-base", base),
    ]


def quantization(check: Check) -> list[str]:
    check.need_cuda()
    folder = random_weights_folder("text-classification", DISTILBERT_BASE, check.work / "distilbert-base-weights")
    base = ["+task=text-classification", f"model.id={folder}"]
    return [
        "distilbert-base's shape with random weights saved once, loaded with bitsandbytes on CUDA.",
        "",
        *compare_dtypes(
            check,
            "distilbert-base",
            base,
            ("dtype=float16", "dtype=float16 quantization=8bit", "dtype=float16 quantization=4bit"),
        ),
    ]


def fp16_throughput(check: Check) -> list[str]:
    check.need_cuda()
    from benchmarks.gpu_throughput import runner_vs_raw

    folder = random_weights_folder("text-classification", DISTILBERT_BASE, check.work / "distilbert-base-weights")
    return runner_vs_raw(folder, check.work / "throughput")


def out_of_memory(check: Check) -> list[str]:
    from benchmarks.gpu_oom import section

    return section(check.cuda, check.work / "oom", check.memory_gb)


def smoke_benchmark(check: Check) -> list[str]:
    if check.cuda:
        raise Skipped(
            "skipped on CUDA: the smoke parts compare the runner (device=auto: the GPU) with raw "
            "pipeline() (the CPU); CI runs them"
        )
    if not check.smoke:
        raise Skipped("skipped: --no-smoke")
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--smoke"],
        cwd=check.work,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0:
        raise RuntimeError(done.stdout[-4000:] + done.stderr[-2000:])
    return ["```", *done.stdout.strip().splitlines(), "```"]


SECTIONS = [
    ("Environment", environment),
    ("GPU tests", gpu_tests),
    ("dtypes on tiny models", dtypes_tiny),
    ("dtypes on a no_weights model", dtypes_no_weights),
    ("bitsandbytes 8-bit and 4-bit", quantization),
    ("Out of memory: sweep and batch_size=auto", out_of_memory),
    ("fp16 throughput: runner vs raw", fp16_throughput),
    ("Smoke benchmark", smoke_benchmark),
]


def run_section(check: Check, title: str, section) -> tuple[list[str], bool]:
    started = time.perf_counter()
    failed = False
    try:
        body = section(check)
    except Skipped as skip:
        body = [str(skip)]
    except Exception:  # noqa: BLE001 - one failing section must not hide the others
        body, failed = ["**FAILED**", "", "```", traceback.format_exc().strip(), "```"], True
    return [f"## {title} ({time.perf_counter() - started:.0f} s)", "", *body, ""], failed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--report", type=Path, default=ROOT / "benchmarks" / "results" / "gpu_check.md")
    parser.add_argument("--memory-gb", type=float, default=24.0, help="allocator cap for the OOM sweep (GiB)")
    parser.add_argument("--no-smoke", dest="smoke", action="store_false", help="leave out the smoke benchmark")
    parser.add_argument("--sections", nargs="+", help="only these sections (function names, e.g. dtypes_tiny)")
    args = parser.parse_args(argv)
    for name, value in (
        ("HF_HUB_OFFLINE", "1"),
        ("TOKENIZERS_PARALLELISM", "false"),
        ("TRANSFORMERS_VERBOSITY", "error"),
    ):
        os.environ.setdefault(name, value)
    import torch

    sections = [(t, f) for t, f in SECTIONS if not args.sections or f.__name__ in args.sections]
    started, failures = time.perf_counter(), []
    lines = [
        f"# GPU check, {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC",
        "",
        f"`bash scripts/gpu_check.sh` ({'CUDA' if torch.cuda.is_available() else 'no CUDA device: CPU-safe parts only'})",
        "",
    ]
    args.report.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        check = Check(torch.cuda.is_available(), Path(tmp), args.memory_gb, args.smoke)
        for title, section in sections:
            print(f"gpu_check: {title} ...", flush=True)
            body, failed = run_section(check, title, section)
            failures += [title] if failed else []
            lines += body
            args.report.write_text("\n".join(lines))  # a report so far, should the machine go away
    lines.append(
        f"Total {time.perf_counter() - started:.0f} s; "
        + (f"FAILED: {', '.join(failures)}" if failures else "no section failed")
        + "."
    )
    args.report.write_text("\n".join(lines) + "\n")
    print(f"gpu_check: report {args.report}" + (f"; FAILED: {', '.join(failures)}" if failures else ""))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
