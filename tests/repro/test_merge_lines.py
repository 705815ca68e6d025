"""merge= reads each shard's predictions line by line: a damaged line is named by file and line number."""

from __future__ import annotations

import pytest

from runner.core.errors import RunError
from runner.repro.merge import ShardJob, _indexed_lines


def _job(tmp_path) -> ShardJob:
    return ShardJob(dir=tmp_path, index=1, count=2, status="ok", config={})


def test_lines_are_kept_byte_for_byte_with_their_index(tmp_path):
    path = tmp_path / "predictions.jsonl"
    path.write_bytes(b'{"index": 1, "output": "caf\xc3\xa9"}\n\n{"index": 3, "output": "x"}')
    assert _indexed_lines(path, _job(tmp_path)) == [
        (1, '{"index": 1, "output": "café"}\n'),
        (3, '{"index": 3, "output": "x"}\n'),
    ]


@pytest.mark.parametrize("damaged", [b'{"index": 3, "output": "caf\xe9"}\n', b'{"index": 3, "outp\n', b"[3]\n"])
def test_a_damaged_line_is_named_by_its_number(tmp_path, damaged):
    path = tmp_path / "predictions.jsonl"
    path.write_bytes(b'{"index": 1, "output": "a"}\n' + damaged)
    with pytest.raises(RunError, match=r"predictions.jsonl:2 is not a JSON record"):
        _indexed_lines(path, _job(tmp_path))
