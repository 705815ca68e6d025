"""1,000 rows with 20 poisoned rows of every kind a file can hold: every good row gets its prediction,
every bad row its errors.jsonl line (index and reason), in place; the counts add up; and the same
after a kill -9 and a resume. Texts of 200 KB are not poison: with truncation they are texts."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import read_jsonl, run_job

ROWS, PER_KIND = 1000, 20
LONG = "a long document " * 12_500  # 200 KB, over csv's default field limit of 131,072 characters

# kind -> (the bytes of the row, the reason its error must give; None: a good row)
CSV_KINDS = {
    "bad byte": (lambda i: b'%d,"caf\xe9 #%d"' % (i, i), "byte 0xe9 is not UTF-8 (column 'text')"),
    "too few fields": (lambda i: b"%d" % i, "1 field, the header has 2"),
    "too many fields": (lambda i: b"%d,one,two" % i, "3 fields, the header has 2"),
    "empty text": (lambda i: b"%d,   " % i, "ValueError: empty text"),
    "text over the csv limit": (lambda i: f'{i},"{LONG}"'.encode(), None),
    "quoted text spanning lines": (lambda i: b'%d,"first line\nsecond line #%d"' % (i, i), None),
}
JSONL_KINDS = {
    "bad byte": (lambda i: b'{"text": "caf\xe9 #%d"}' % i, "is not UTF-8"),
    "broken line": (lambda i: b'{"text": "unterminated #%d' % i, "invalid JSON"),
    "not an object": (lambda i: b'["text", %d]' % i, "expected a JSON object, got array"),
    "field missing": (lambda i: b'{"other": %d}' % i, "missing value for input 'text'"),
    "field null": (lambda i: b'{"text": null}', "missing value for input 'text'"),
    "field a number": (lambda i: b'{"text": %d}' % i, "expected text, got int"),
    "text over the csv limit": (lambda i: json.dumps({"text": LONG}).encode(), None),
}


def _write(path, kinds: dict, header: bytes | None) -> dict[int, str | None]:
    """The file, and {position: expected error fragment (None: good)} for the poisoned positions."""
    poisoned = random.Random(13).sample(range(5, ROWS), PER_KIND * len(kinds))  # the first rows stay good
    plan = {position: kind for n, position in enumerate(poisoned) for kind in [list(kinds)[n // PER_KIND]]}
    lines, expected = [header] if header else [], {}
    for i in range(ROWS):
        if i in plan:
            make, reason = kinds[plan[i]]
            lines.append(make(i))
            expected[i] = reason
        elif header:
            lines.append(b'%d,"good row #%d"' % (i, i))
        else:
            lines.append(json.dumps({"text": f"good row #{i}"}).encode())
    path.write_bytes(b"\n".join(lines) + b"\n")
    return expected


def _base(name: str) -> list[str]:
    return [
        "+task=text-classification",
        "model=tiny",
        "dataset=file",
        f"dataset.path={name}",
        "dataset.column=text",
        "task.params.truncation=true",
        "batch_size=16",
        "progress=false",
    ]


def _check_outputs(out, expected: dict[int, str | None]) -> None:
    bad = {i: reason for i, reason in expected.items() if reason is not None}
    predictions, errors = read_jsonl(out / "predictions.jsonl"), read_jsonl(out / "errors.jsonl")
    assert sorted(p["index"] for p in predictions) == [i for i in range(ROWS) if i not in bad]
    assert sorted(e["index"] for e in errors) == sorted(bad)
    assert all(isinstance(p["output"]["label"], str) for p in predictions)
    for error in errors:
        assert bad[error["index"]] in error["error"], error


@pytest.mark.parametrize("name, kinds, header", [("d.csv", CSV_KINDS, b"id,text"), ("d.jsonl", JSONL_KINDS, None)])
def test_every_good_row_is_predicted_and_every_bad_row_reported(tmp_path, name, kinds, header):
    expected = _write(tmp_path / name, kinds, header)
    out = tmp_path / "out"
    result = run_job(*_base(name), f"hydra.run.dir={out}", cwd=tmp_path)
    assert result.returncode == 4, result.stderr  # the run finished, rows failed beyond max_error_fraction=0
    _check_outputs(out, expected)
    metrics = json.loads((out / "metrics.json").read_text())
    bad = sum(reason is not None for reason in expected.values())
    assert (metrics["rows_in"], metrics["rows_out"], metrics["rows_error"]) == (ROWS, ROWS - bad, bad)


def test_killed_and_resumed_the_poisoned_csv_still_gives_every_row_once(tmp_path):
    expected = _write(tmp_path / "d.csv", CSV_KINDS, b"id,text")
    out = tmp_path / "out"
    process = subprocess.Popen(
        [sys.executable, "-m", "runner", *_base("d.csv"), f"hydra.run.dir={out}"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ},
    )
    predictions, deadline = out / "predictions.jsonl", time.time() + 240
    while (
        process.poll() is None
        and time.time() < deadline
        and (not predictions.exists() or predictions.read_bytes().count(b"\n") < 60)
    ):
        time.sleep(0.02)
    assert process.poll() is None, "the run finished before the kill point"
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    assert predictions.read_bytes().count(b"\n") < ROWS - len(expected)
    resumed = run_job(*_base("d.csv"), f"resume={out}", f"hydra.run.dir={tmp_path / 'second'}", cwd=tmp_path)
    assert resumed.returncode == 4, resumed.stderr
    _check_outputs(out, expected)
    metrics = json.loads((out / "metrics.json").read_text())  # the totals of both segments, the killed one too
    bad = sum(reason is not None for reason in expected.values())
    assert (metrics["rows_in"], metrics["rows_out"], metrics["rows_error"]) == (ROWS, ROWS - bad, bad)
    assert [segment["status"] for segment in metrics["segments"]] == ["unrecorded", "ok"]
