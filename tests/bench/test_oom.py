"""OOM detection over every error shape the issue lists, memory release, and the fault injection."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from runner.bench.oom import INJECT_ENV, check_injected_oom, injected_oom_limit, is_oom, release_memory


def real_cpu_allocation_failure() -> RuntimeError:
    try:
        torch.empty(10**14, dtype=torch.uint8)  # 100 TB: the CPU allocator refuses it
    except RuntimeError as error:
        return error
    pytest.skip("this machine allocated 100 TB")


def chained(outer: Exception, inner: Exception, explicit: bool) -> Exception:
    try:
        try:
            raise inner
        except Exception as caught:
            if explicit:
                raise outer from caught
            raise outer  # noqa: B904 - the implicit chaining (__context__) is what this builds
    except Exception as error:
        return error


def test_every_oom_shape_is_recognised():
    cases = [
        torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"),
        torch.cuda.OutOfMemoryError("CUDA out of memory."),
        RuntimeError("CUDA out of memory. Tried to allocate 20.00 MiB (GPU 0; 15.90 GiB total capacity)"),
        RuntimeError("MPS backend out of memory (MPS allocated: 17.00 GB, other allocations: 1.00 GB)"),
        RuntimeError("XPU out of memory. Tried to allocate 1.00 GiB"),
        RuntimeError("CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling `cublasCreate(handle)`"),
        real_cpu_allocation_failure(),
        MemoryError(),
        chained(ValueError("batch failed"), torch.OutOfMemoryError("CUDA out of memory."), explicit=True),
        chained(KeyError("while handling"), MemoryError(), explicit=False),
    ]
    assert [is_oom(error) for error in cases] == [True] * len(cases)
    assert "DefaultCPUAllocator: can't allocate memory" in str(cases[6])


def test_other_errors_are_not_oom():
    cases = [
        RuntimeError("The size of tensor a (3) must match the size of tensor b (4)"),
        ValueError("out of memory"),  # not a RuntimeError: the message alone does not make an OOM
        chained(ValueError("bad row"), TypeError("expected str"), explicit=True),
        KeyError("memory"),
    ]
    assert [is_oom(error) for error in cases] == [False] * len(cases)


def test_a_cyclic_chain_terminates():
    first, second = RuntimeError("a"), RuntimeError("b")
    first.__context__, second.__context__ = second, first
    assert is_oom(first) is False


def test_detection_does_not_import_torch():
    code = (
        "import sys; from runner.bench.oom import is_oom; "
        "assert is_oom(RuntimeError('CUDA out of memory.')) and not is_oom(RuntimeError('x')); "
        "assert 'torch' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_injection_raises_the_real_cuda_oom_type_above_the_limit(monkeypatch):
    monkeypatch.setenv(INJECT_ENV, "24")
    assert torch.cuda.OutOfMemoryError is torch.OutOfMemoryError
    check_injected_oom(24)  # at the limit: fits
    with pytest.raises(torch.cuda.OutOfMemoryError) as caught:
        check_injected_oom(25)
    assert f"(injected: {INJECT_ENV}=24)" in str(caught.value) and is_oom(caught.value)
    # worded like CUDA's message, so accelerate's message-based check agrees
    from accelerate.utils.memory import should_reduce_batch_size

    assert should_reduce_batch_size(caught.value)


@pytest.mark.parametrize("value,expected", [(None, None), ("", None), ("0", 0), (" 8 ", 8)])
def test_injection_limit_from_the_environment(monkeypatch, value, expected):
    if value is None:
        monkeypatch.delenv(INJECT_ENV, raising=False)
    else:
        monkeypatch.setenv(INJECT_ENV, value)
    assert injected_oom_limit() == expected
    check_injected_oom(1 if expected is None else expected)  # never raises at or below the limit


@pytest.mark.parametrize("value", ["big", "-1", "2.5"])
def test_a_bad_injection_value_names_the_variable(monkeypatch, value):
    monkeypatch.setenv(INJECT_ENV, value)
    with pytest.raises(ValueError, match=INJECT_ENV):
        check_injected_oom(1)


def test_release_memory_after_a_real_oom_leaves_torch_usable():
    error = real_cpu_allocation_failure()
    assert is_oom(error)
    release_memory()
    assert torch.ones(4).sum().item() == 4
