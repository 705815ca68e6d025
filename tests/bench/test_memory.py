"""Peak memory is per point: a reset forgets earlier peaks (Hydra's basic launcher runs every point in one process)."""

from __future__ import annotations

import sys

import pytest

from runner.bench.memory import peak_memory, reset_peak_memory


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the RSS high-water mark resets on Linux only")
def test_reset_forgets_an_earlier_peak():
    reset_peak_memory()
    block = bytearray(b"x" * (128 * 2**20))  # touched, so it is resident
    with_block = peak_memory()["peak_rss_mb"]
    del block
    assert reset_peak_memory()
    after_reset = peak_memory()["peak_rss_mb"]
    assert with_block - after_reset > 100, (with_block, after_reset)


def test_peak_memory_keys_on_cpu():
    memory = peak_memory()
    assert memory["peak_rss_mb"] > 0
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available():
        assert set(memory) == {"peak_rss_mb"}
