"""benchmarks/gpu_check.py on a machine without CUDA: the CUDA-only sections say so and the command
succeeds; a failing section is reported and fails the command while the others still run. (The slow
CPU-safe sections, dtypes and the OOM dry run, are exercised by `bash scripts/gpu_check.sh`.)"""

from __future__ import annotations

import subprocess
import sys

import pytest

from runner.core.paths import REPO_ROOT

CUDA_ONLY = ["gpu_tests", "quantization", "fp16_throughput"]


def no_cuda() -> bool:
    import torch

    return not torch.cuda.is_available()


@pytest.mark.skipif("not no_cuda()", reason="on a CUDA machine these sections run for real (scripts/gpu_check.sh)")
def test_cuda_only_sections_skip_with_a_clear_line(tmp_path):
    report = tmp_path / "gpu_check.md"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.gpu_check",
            "--report",
            str(report),
            "--sections",
            "environment",
            *CUDA_ONLY,
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    text = report.read_text()
    assert text.count("skipped: no CUDA device") == len(CUDA_ONLY)
    assert "- torch " in text and text.count("\n## ") == len(CUDA_ONLY) + 1 and "no section failed" in text


def test_a_failing_section_is_reported_and_fails_the_command(tmp_path, monkeypatch):
    from benchmarks import gpu_check

    def broken(check):
        raise RuntimeError("the allocator said no")

    monkeypatch.setattr(gpu_check, "SECTIONS", [("Broken", broken), ("Environment", gpu_check.environment)])
    report = tmp_path / "report.md"
    assert gpu_check.main(["--report", str(report)]) == 1
    text = report.read_text()
    assert "## Broken" in text and "**FAILED**" in text and "RuntimeError: the allocator said no" in text
    assert "## Environment" in text and "- torch " in text and "FAILED: Broken." in text
