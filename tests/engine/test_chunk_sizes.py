"""Chunk sizes (runner.engine.rows.ChunkSizes): whole batches, grouped only while chunks are fast."""

from __future__ import annotations

from runner.engine.rows import FAST_CHUNK_SECONDS, GROWN_CHUNK_ROWS, SLOW_CHUNK_SECONDS, ChunkSizes, RowReader
from runner.sources import Row
from tests.conftest import write_wav

FAST, SLOW, STEADY = FAST_CHUNK_SECONDS / 2, SLOW_CHUNK_SECONDS * 2, (FAST_CHUNK_SECONDS + SLOW_CHUNK_SECONDS) / 2


def _sizes_after(sizes: ChunkSizes, durations: list[float]) -> list[int]:
    seen = [sizes.size]
    for seconds in durations:
        sizes.took(seconds)
        seen.append(sizes.size)
    return seen


def test_fast_chunks_double_in_whole_batches_up_to_the_cap_and_slow_ones_halve():
    assert _sizes_after(ChunkSizes(3), [FAST] * 6 + [STEADY, SLOW, SLOW, SLOW, SLOW]) == [
        3,
        6,
        12,
        24,
        48,
        63,
        63,
        63,
        30,
        15,
        6,
        3,
    ]  # 63: the most whole batches of 3 in 64 rows
    assert _sizes_after(ChunkSizes(1), [FAST] * 7) == [1, 2, 4, 8, 16, 32, 64, 64]


def test_a_batch_larger_than_the_cap_and_a_fixed_size_never_change():
    assert _sizes_after(ChunkSizes(100), [FAST, FAST, SLOW]) == [100] * 4
    assert _sizes_after(ChunkSizes(4, grows=False), [FAST, FAST, SLOW]) == [4] * 4
    assert GROWN_CHUNK_ROWS == 64


class _Source:
    def rows(self, mapping, shard):
        return (Row(id=i, fields={"text": str(i)}, index=i) for i in range(40))


class _Plan:
    source, source_mapping, shard = _Source(), {}, None


def test_the_reader_takes_the_time_between_chunks_and_keeps_every_row_in_order():
    sizes = ChunkSizes(2)
    chunks = list(RowReader(_Plan(), done=set()).chunks(sizes))  # the consumer takes no time: all fast
    assert [len(chunk) for chunk in chunks] == [2, 4, 8, 16, 10]
    assert [item.row.index for chunk in chunks for item in chunk] == list(range(40))
    assert [item.batch for chunk in chunks for item in chunk] == [i // 2 for i in range(40)]  # as read, batch by batch


def _run(tmp_path, name: str, monkeypatch, grows: bool, task: str, batch_size: int, **source):
    """Predictions and errors of an API run with chunk growth on or off, and the rows of each pipeline call."""
    from runner.api import run
    from runner.engine import rows as rows_module
    from runner.engine.pipeline_step import PipelineStep

    # Growth off: a chunk never counts as fast. On: every chunk does, so chunks reach the 64-row cap.
    monkeypatch.setattr(rows_module, "FAST_CHUNK_SECONDS", 1e9 if grows else 0.0)
    calls = []
    original = PipelineStep.run

    def counted(self, inputs, *args, **kwargs):
        calls.append(len(inputs))
        return original(self, inputs, *args, **kwargs)

    monkeypatch.setattr(PipelineStep, "run", counted)
    out = tmp_path / name
    run(task, model="tiny", batch_size=batch_size, output_dir=out, progress=False, max_error_fraction=1, **source)
    monkeypatch.undo()
    return calls, [(out / f).read_text() for f in ("predictions.jsonl", "errors.jsonl")]


def _classify(tmp_path, name: str, rows: list, monkeypatch, grows: bool):
    return _run(tmp_path, name, monkeypatch, grows, "text-classification", 3, inputs=rows)


def test_grouped_audio_batches_with_failed_rows_give_the_outputs_of_single_batches(tmp_path, monkeypatch):
    # Audio batches are padded to their longest clip, which changes every clip's scores: a short batch
    # (a file of it cannot be decoded) must stay that short batch when batches are grouped.
    folder = tmp_path / "clips"
    for i in range(40):
        write_wav(folder / f"{i:02d}.wav", seconds=0.1 + 0.013 * ((i * 7) % 11), rate=16000, freq=200 + 40 * i)
    for broken in (5, 22):
        (folder / f"{broken:02d}.wav").write_bytes(b"RIFF not really a wave file")
    dataset = {"type": "folder", "path": str(folder), "prefetch": 0}  # rows decoded ahead: never grouped
    single_calls, single = _run(tmp_path, "single", monkeypatch, False, "audio-classification", 2, dataset=dataset)
    grouped_calls, grouped = _run(tmp_path, "grouped", monkeypatch, True, "audio-classification", 2, dataset=dataset)
    assert grouped == single and grouped[1].count("\n") == 2
    assert len(single_calls) == 20 and len(grouped_calls) < 10


def _rows_of_many_lengths(count: int) -> list[dict]:
    """Rows of very different lengths, so padding shows in the scores (all within the tiny model's 128 positions)."""
    words = "the model reads every row of this file in batches of three".split()
    return [{"text": " ".join(words[: 1 + (i * 7) % len(words)] * (1 + i % 2))} for i in range(count)]


def test_grouped_batches_are_one_call_per_chunk_with_the_outputs_of_single_batches(tmp_path, monkeypatch):
    rows = _rows_of_many_lengths(150)
    single_calls, single = _classify(tmp_path, "single", rows, monkeypatch, grows=False)
    grouped_calls, grouped = _classify(tmp_path, "grouped", rows, monkeypatch, grows=True)
    assert grouped == single and grouped[1] == ""
    assert single_calls == [3] * 50
    assert grouped_calls == [3, 6, 12, 24, 48, 57]  # chunks double up to 63 rows (21 batches); 150 rows end it


def test_grouped_batches_with_failed_rows_are_called_and_retried_as_single_batches(tmp_path, monkeypatch):
    # Two rows fail as they are prepared (no text), which leaves their batches short, and one as it runs
    # (longer than the tiny model's 128 positions), which fails its call: the grouped batches are
    # called, and retried, as those batches were alone.
    rows = _rows_of_many_lengths(150)
    rows[10] = rows[80] = {"text": None}
    rows[100] = {"text": " ".join(["word"] * 300)}
    single_calls, single = _classify(tmp_path, "single", rows, monkeypatch, grows=False)
    grouped_calls, grouped = _classify(tmp_path, "grouped", rows, monkeypatch, grows=True)
    assert grouped == single and grouped[1].count("\n") == 3
    assert len(single_calls) == 50 + 3 and max(single_calls) == 3  # a call per batch, and row 100's batch-mates alone
    assert len(grouped_calls) < len(single_calls) and max(grouped_calls) > 3
