"""dataset.prefetch: rows decoded ahead in a background thread give the same files as without it (order,
error rows counted once), the thread ends with the run however the run ends, resume still works,
and the queue never holds more than `prefetch` decoded rows."""

from __future__ import annotations

import _thread
import json
import signal
import threading
import time

import pytest

import runner
from runner.engine.prefetch import prefetched
from runner.engine.rows import Item
from runner.core.errors import ConfigError, RunError
from runner.sources import Row
from tests.conftest import read_jsonl, run_cli, run_job, write_png, write_wav


def prefetch_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "runner-prefetch"]


def _images(folder):
    """Good images of several sizes, with unreadable files among them (garbage, an empty file, a truncated PNG)."""
    for i in range(9):
        write_png(folder / f"{i:02d}-good.png", size=(40 + 7 * i, 30 + 5 * i), color=(20 * i, 100, 200 - 10 * i))
    (folder / "03-garbage.png").write_bytes(b"this is not an image")
    (folder / "06-empty.png").write_bytes(b"")
    whole = (folder / "00-good.png").read_bytes()
    (folder / "08-truncated.png").write_bytes(whole[: len(whole) // 2])
    return folder


def _audio(folder):
    """Clips at 16 and 44.1 kHz (resampled), with a file that is not audio and one cut short."""
    for i in range(6):
        write_wav(
            folder / f"{i:02d}-good.wav", seconds=0.2 + 0.05 * i, rate=44100 if i % 2 else 16000, freq=300 + 50 * i
        )
    (folder / "02-noise.wav").write_bytes(b"RIFF not really a wave file")
    whole = (folder / "04-good.wav").read_bytes()
    (folder / "04-short.wav").write_bytes(whole[: len(whole) // 3])
    return folder


def _run_folder(tmp_path, task: str, folder, prefetch, *extra: str):
    out = tmp_path / f"out-{task}-{prefetch}-{len(extra)}"
    result = run_job(
        f"+task={task}",
        "model=tiny",
        "dataset=folder",
        f"dataset.path={folder}",
        "batch_size=2",
        f"dataset.prefetch={prefetch}",
        "progress=false",
        "max_error_fraction=1",
        *extra,
        f"hydra.run.dir={out}",
        cwd=tmp_path,
    )
    return result, out


@pytest.mark.parametrize("task,make,bad", [("image-classification", _images, 3), ("audio-classification", _audio, 2)])
def test_prefetch_keeps_order_and_error_rows(tmp_path, task, make, bad):
    folder = make(tmp_path / "data")
    files = {}
    for prefetch in (0, 3, "auto"):
        result, out = _run_folder(tmp_path, task, folder, prefetch)
        assert result.returncode == 0, result.stderr[-3000:]
        files[prefetch] = [(out / name).read_text() for name in ("predictions.jsonl", "errors.jsonl")]
        metrics = json.loads((out / "metrics.json").read_text())
        assert (metrics["rows_error"], metrics["rows_unfinished"]) == (bad, 0)  # each bad file counted once
        assert ("decoding up to" in result.stderr) == (prefetch != 0)
        assert metrics["prefetch_rows"] == {0: 0, 3: 3, "auto": 4}[prefetch]  # auto: two batches of 2
    assert files[3] == files[0] and files["auto"] == files[0]
    predictions, errors = (read_jsonl(out / name) for name in ("predictions.jsonl", "errors.jsonl"))
    indexes = sorted(p["index"] for p in predictions + errors)
    assert indexes == list(range(len(indexes))) and [p["index"] for p in predictions] == sorted(
        p["index"] for p in predictions
    )
    assert all(e["stage"] == "prepare" for e in errors) and not prefetch_threads()


def test_the_thread_ends_after_on_error_fail_and_resume_finishes_the_rows(tmp_path):
    folder = _images(tmp_path / "data")
    straight, straight_out = _run_folder(tmp_path, "image-classification", folder, 0)
    assert straight.returncode == 0, straight.stderr[-3000:]
    failed, out = _run_folder(tmp_path, "image-classification", folder, 4, "on_error=fail")
    assert failed.returncode == 1 and "03-garbage.png" in failed.stderr
    assert not prefetch_threads()
    kept = read_jsonl(out / "predictions.jsonl")
    assert [p["index"] for p in kept] == [0, 1]  # the chunk before the failing row's (index 3), none after
    resumed = run_cli(
        "+task=image-classification",
        "model=tiny",
        "dataset=folder",
        f"dataset.path={folder}",
        "batch_size=2",
        "dataset.prefetch=4",
        "progress=false",
        "max_error_fraction=1",
        f"resume={out}",
        cwd=tmp_path,
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert (out / "predictions.jsonl").read_text() == (straight_out / "predictions.jsonl").read_text()
    assert not prefetch_threads()


def _texts(count: int, interrupt_at: int | None = None, fail_at: int | None = None):
    """Python rows, read by the prefetch thread: at `interrupt_at` it sends Ctrl-C to the main thread
    (as the terminal would), at `fail_at` the source itself breaks."""
    for i in range(count):
        if i == interrupt_at:
            _thread.interrupt_main()
        if i == fail_at:
            raise OSError("the source broke")
        yield f"row {i} is a sentence of text"


def _python_run(tmp_path, rows, name: str, **config):
    return runner.run(
        "text-classification",
        model="tiny",
        inputs=rows,
        batch_size=2,
        progress=False,
        output_dir=tmp_path / name,
        **{"dataset.prefetch": 3},
        **config,
    )


def test_the_thread_ends_after_ctrl_c_a_broken_source_and_an_early_stop(tmp_path):
    # interrupt_main() does nothing unless Python's own SIGINT handler is installed (an earlier test in the
    # same process, or the process that started pytest, may have left SIG_IGN/SIG_DFL): install it here.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            _python_run(tmp_path, _texts(100_000, interrupt_at=50), "interrupted")
            time.sleep(5)  # the interrupt is asynchronous: it lands within a few rows
    finally:
        signal.signal(signal.SIGINT, previous)
    assert not prefetch_threads()
    assert json.loads((tmp_path / "interrupted" / "metrics.json").read_text())["status"] == "interrupted"

    with pytest.raises(RunError, match="the source broke"):
        _python_run(tmp_path, _texts(40, fail_at=13), "broken")
    assert not prefetch_threads()
    written = read_jsonl(tmp_path / "broken" / "predictions.jsonl")
    assert [p["index"] for p in written] == list(range(12))  # every row before the break, in order

    early = _python_run(tmp_path, _texts(10_000), "early", bench={"enabled": True, "max_rows": 6, "warmup_batches": 0})
    assert early.metrics["stopped_early"] and early.metrics["rows_out"] == 6
    assert not prefetch_threads()


def test_the_queue_holds_at_most_prefetch_rows():
    produced, taken, ahead = [], [], []

    def items():
        for i in range(40):
            produced.append(i)
            yield Item(Row(i, {"text": str(i)}, index=i))

    with prefetched(items(), lambda item: None, depth=4) as rows:
        for item in rows:
            taken.append(item.row.index)
            time.sleep(0.02)  # a slow model: the producer runs ahead until the queue is full
            ahead.append(len(produced) - len(taken))
    assert taken == list(range(40)) and max(ahead) <= 4 + 1  # the queue, and the row in the producer's hands
    assert max(ahead) >= 4 and not prefetch_threads()


@pytest.mark.parametrize("value", ["-1", "65537", "1.5", "some"])
def test_a_bad_prefetch_value_is_a_config_error_naming_the_key(value):
    with pytest.raises(ConfigError) as caught:
        runner.api.compose(
            ["+task=image-classification", "dataset=folder", "dataset.path=x", f"dataset.prefetch={value}"]
        )
    keys = [e.key for e in getattr(caught.value, "errors", [caught.value])]
    assert "dataset.prefetch" in keys, caught.value.render()
