"""Run-dir integrity: the runner writes only regular files it made inside the run dir, never through a
link; a dir with run outputs and no run.json is not written over; torn lines cost only themselves; a full
disk ends the run with one line and a hint, no temp files, and run.json "interrupted" (issue 29, class 1)."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest

from runner.core.errors import OutputError
from runner.outputs.sinks import completed_indices, open_output, write_json
from tests.conftest import read_jsonl, run_job
from tests.faults.conftest import BASE, interrupted, write_rows

OUTSIDE = "precious outside file\n"


def _outside(tmp_path: Path) -> Path:
    path = tmp_path / "elsewhere.txt"
    path.write_text(OUTSIDE)
    return path


# -- links and special files ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name",
    [
        "predictions.jsonl",
        "errors.jsonl",
        "metrics.json",
        "run.json",
        ".run.json.tmp",
        ".metrics.json.tmp",
        "predictions.csv",
        "rerun.json",
        "run.lock",
        "run.log",
    ],
)
def test_resume_refuses_a_symlink_in_the_run_dir(copied_run, tmp_path, name):
    outside = _outside(tmp_path)
    interrupted(copied_run)
    (copied_run / name).unlink(missing_ok=True)
    (copied_run / name).symlink_to(outside)
    result = run_job(*BASE, f"resume={copied_run}", cwd=tmp_path)
    assert result.returncode == 2
    assert outside.read_text() == OUTSIDE


@pytest.mark.parametrize("name", ["predictions.jsonl", "errors.jsonl", "run.log", "predictions.parquet"])
def test_a_new_run_refuses_a_symlink_where_it_writes(tmp_path, name):
    outside = _outside(tmp_path)
    write_rows(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    (out / name).symlink_to(outside)
    assert run_job(*BASE, f"hydra.run.dir={out}", cwd=tmp_path).returncode == 2
    assert outside.read_text() == OUTSIDE


def test_resume_refuses_a_hard_link_to_a_file_elsewhere(copied_run, tmp_path):
    interrupted(copied_run)
    outside = tmp_path / "hard.jsonl"
    os.link(copied_run / "predictions.jsonl", outside)
    before = outside.read_bytes()
    assert run_job(*BASE, f"resume={copied_run}", cwd=tmp_path).returncode == 2
    assert outside.read_bytes() == before


def test_a_fifo_where_predictions_go_is_refused_not_waited_on(tmp_path):
    write_rows(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    os.mkfifo(out / "errors.jsonl")
    assert run_job(*BASE, f"hydra.run.dir={out}", cwd=tmp_path).returncode == 2


@pytest.mark.parametrize("mode", ["w", "a", "r+b", "wb", "r"])
def test_open_output_never_follows_a_symlink(tmp_path, mode):
    outside = _outside(tmp_path)
    (tmp_path / "link").symlink_to(outside)
    with pytest.raises(OutputError, match="symbolic link"):
        open_output(tmp_path / "link", mode, encoding=None if "b" in mode else "utf-8")
    assert outside.read_text() == OUTSIDE


def test_open_output_leaves_a_refused_hard_linked_file_untouched(tmp_path):
    outside = _outside(tmp_path)
    os.link(outside, tmp_path / "second")
    with pytest.raises(OutputError, match="2 names"):
        open_output(tmp_path / "second", "w")
    assert outside.read_text() == OUTSIDE  # not truncated before the refusal


def test_open_output_refuses_a_fifo_without_blocking(tmp_path):
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(OutputError, match="not a regular file"):
        open_output(tmp_path / "fifo", "a")


# -- outputs without a record ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name,content",
    [
        ("predictions.jsonl", '{"id": 0, "index": 0, "output": 1}\n'),
        ("errors.jsonl", '{"id": 0, "index": 0, "error": "x"}\n'),
        ("metrics.json", '{"status": "ok"}\n'),
        ("predictions.parquet", "PAR1"),
        ("media/out/0.png", "png"),
    ],
)
def test_a_dir_with_run_outputs_but_no_run_json_is_refused(tmp_path, name, content):
    write_rows(tmp_path)
    out = tmp_path / "out"
    (out / name).parent.mkdir(parents=True)
    (out / name).write_text(content)
    result = run_job(*BASE, f"hydra.run.dir={out}", cwd=tmp_path)
    assert result.returncode == 2
    assert (out / name).read_text() == content


def test_the_api_refuses_rows_without_run_json_and_overwrite_clears_them(tmp_path):
    import runner
    from runner.core.errors import ConfigError

    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "predictions.jsonl").write_text('{"id": 0, "index": 0}\n')
    with pytest.raises(ConfigError, match="no run.json"):
        runner.run("text-classification", model="tiny", inputs=["a"], output_dir=tmp_path / "out")
    result = runner.run(
        "text-classification", model="tiny", inputs=["a", "b"], output_dir=tmp_path / "out", overwrite=True
    )
    assert len(result.predictions) == 2


def test_an_empty_predictions_file_without_run_json_is_no_run(tmp_path):
    write_rows(tmp_path, 2)
    out = tmp_path / "out"
    out.mkdir()
    (out / "predictions.jsonl").write_text("")
    assert run_job(*BASE, f"hydra.run.dir={out}", cwd=tmp_path).returncode == 0
    assert len(read_jsonl(out / "predictions.jsonl")) == 2


# -- torn lines -----------------------------------------------------------------------------------------
def _lines(*indices) -> list[bytes]:
    return [json.dumps({"id": i, "index": i, "output": [i] * 3}).encode() + b"\n" for i in indices]


@pytest.mark.parametrize("torn_at", [0, 1, 5, 9])
def test_one_torn_line_anywhere_costs_only_itself(tmp_path, torn_at):
    lines = _lines(*range(10))
    lines[torn_at] = lines[torn_at][: len(lines[torn_at]) // 2] + b"\n"  # cut short, the next line appended after
    path = tmp_path / "p.jsonl"
    path.write_bytes(b"".join(lines))
    assert completed_indices(path) == set(range(10)) - {torn_at}
    assert [r["index"] for r in read_jsonl(path)] == [i for i in range(10) if i != torn_at]


@pytest.mark.parametrize(
    "damage",
    [
        b"\n",  # an empty line
        b"\x00\x00\x00\x00\n",  # NUL bytes from a crash of the filesystem
        b'{"id": 3, "ind',  # torn, without a newline, then the next record on the same line
        b"[1, 2]\n",  # JSON but not a record
        b'{"id": 3}\n',  # a record without its index
        b"\xff\xfe not utf-8\n",  # not UTF-8
        b"[" * 100000 + b"\n",  # nesting deep enough to raise RecursionError
    ],
)
def test_damage_in_the_middle_is_dropped_and_everything_else_kept(tmp_path, damage):
    path = tmp_path / "p.jsonl"
    path.write_bytes(b"".join(_lines(0, 1, 2)) + damage + b"".join(_lines(4, 5)))
    done = completed_indices(path)
    assert {0, 1, 2, 4, 5} - done == set()
    assert [r["index"] for r in read_jsonl(path)][-2:] == [4, 5]
    assert path.read_bytes().endswith(b"\n")


def test_a_torn_last_line_is_cut_in_place_and_a_complete_unterminated_one_kept(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_bytes(b"".join(_lines(0, 1)) + b'{"id": 2, "index"')
    assert completed_indices(path) == {0, 1}
    assert path.read_bytes() == b"".join(_lines(0, 1))
    path.write_bytes(b"".join(_lines(0, 1)) + _lines(2)[0].rstrip(b"\n"))
    assert completed_indices(path) == {0, 1, 2}
    assert path.read_bytes() == b"".join(_lines(0, 1, 2))


def test_resume_after_a_torn_middle_line_redoes_only_that_rows_batch(copied_run, tmp_path):
    predictions = copied_run / "predictions.jsonl"
    reference = read_jsonl(predictions)
    lines = predictions.read_bytes().splitlines(keepends=True)
    lines[2] = lines[2][:10] + b"\n"
    predictions.write_bytes(b"".join(lines))
    interrupted(copied_run)
    result = run_job(*BASE, f"resume={copied_run}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    resumed = read_jsonl(predictions)
    assert sorted(resumed, key=lambda r: r["index"]) == reference
    # Only the torn row's batch (batch_size=2: positions 2 and 3) is done again, as one batch, appended;
    # the complete rows around it stay (runner.repro.resume.cut_batches).
    assert [r["index"] for r in resumed] == [0, 1, 4, 5, 2, 3]


# -- full disk ------------------------------------------------------------------------------------------
class _FullAfter:
    """A file whose writes fail with ENOSPC once `room` writes have gone through."""

    def __init__(self, file, room: int):
        self.file, self.room = file, room

    def write(self, text):
        if self.room <= 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        self.room -= 1
        return self.file.write(text)

    def __getattr__(self, name):
        return getattr(self.file, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.file.close()


def _fill_disk(monkeypatch, names: tuple[str, ...], room: int) -> None:
    import runner.outputs.sinks

    real = runner.outputs.sinks.open_output

    def opened(path, mode="w", **kwargs):
        file = real(path, mode, **kwargs)
        return _FullAfter(file, room) if Path(path).name in names else file

    monkeypatch.setattr(runner.outputs.sinks, "open_output", opened)


def test_a_full_disk_mid_run_ends_in_one_line_and_resume_finishes_it(tmp_path, monkeypatch, finished_run):
    write_rows(tmp_path)
    out = tmp_path / "out"
    _fill_disk(monkeypatch, ("predictions.jsonl", ".metrics.json.tmp"), room=3)
    result = run_job(*BASE, f"hydra.run.dir={out}", cwd=tmp_path)
    assert result.returncode == 1
    assert "No space left on device" in result.stderr and f"resume={out}" in result.stderr
    assert "Traceback" not in result.stderr.split("traceback:")[0]
    assert json.loads((out / "run.json").read_text())["status"] == "interrupted"
    assert not [p.name for p in out.iterdir() if p.name.endswith((".tmp", ".repair"))]
    assert len(read_jsonl(out / "predictions.jsonl")) == 3
    monkeypatch.undo()
    assert run_job(*BASE, f"resume={out}", cwd=tmp_path).returncode == 0
    assert (out / "predictions.jsonl").read_bytes() == (finished_run / "predictions.jsonl").read_bytes()


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT, errno.EIO])
def test_write_json_on_a_full_disk_keeps_the_old_file_and_no_temp(tmp_path, monkeypatch, code):
    import runner.outputs.sinks

    path = tmp_path / "run.json"
    write_json(path, {"status": "running"})
    real = runner.outputs.sinks.open_output

    def broken(target, mode="w", **kwargs):
        file = real(target, mode, **kwargs)
        file.write = lambda text: (_ for _ in ()).throw(OSError(code, os.strerror(code)))
        return file

    monkeypatch.setattr(runner.outputs.sinks, "open_output", broken)
    with pytest.raises(OutputError) as caught:
        write_json(path, {"status": "ok"})
    assert os.strerror(code) in caught.value.message and caught.value.errno == code
    assert "resume=" in caught.value.hint_for(tmp_path)
    assert json.loads(path.read_text()) == {"status": "running"} and os.listdir(tmp_path) == ["run.json"]


# -- a resumed segment's log ----------------------------------------------------------------------------
def _cut_to(run_dir: Path, rows: int) -> None:
    predictions = run_dir / "predictions.jsonl"
    predictions.write_bytes(b"".join(predictions.read_bytes().splitlines(keepends=True)[:rows]))
    interrupted(run_dir)


def test_the_command_logs_a_resumed_segment_into_the_run_dirs_run_log(copied_run, tmp_path, run_command):
    """`run ... resume=<dir>` makes a dir of its own for the command (Hydra's): its log went there only,
    so the resumed run's run.log ended with the first segment. Now the segment is appended to it,
    after a header, and the command's own dir keeps its copy."""
    before = (copied_run / "run.log").read_text()
    _cut_to(copied_run, 2)
    own = tmp_path / "command"
    assert run_command(*BASE, f"resume={copied_run}", f"hydra.run.dir={own}", cwd=tmp_path) == 0
    log = (copied_run / "run.log").read_text()
    assert log.startswith(before)
    segment = log[len(before) :]
    assert "==== resumed segment" in segment and f"resume={copied_run}" in segment.splitlines()[1]
    assert str(own / "run.log") in segment.splitlines()[1]
    assert "2 rows already done" in segment and "done: 6 rows" in segment, segment  # the segment's own lines
    assert segment.splitlines()[-1].split("] ", 1)[-1] in (own / "run.log").read_text()


def test_a_resumed_segment_that_fails_leaves_its_error_in_the_run_dirs_run_log(copied_run, tmp_path):
    """The Python API (runner.run(..., resume=)) too; here the resume is refused mid-way (the config
    differs): the refusal is in the resumed run's log, not only in the call's own dir."""
    _cut_to(copied_run, 2)
    result = run_job(*BASE, "seed=7", f"resume={copied_run}", f"hydra.run.dir={tmp_path / 'call'}", cwd=tmp_path)
    assert result.returncode == 2
    segment = (copied_run / "run.log").read_text().split("==== resumed segment", 1)[1]
    assert "config error" in segment and "seed" in segment
