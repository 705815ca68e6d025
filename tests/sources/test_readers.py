"""Files are read row by row: a row the file cannot give (a bad byte, a broken line, a ragged CSV
line) is one error row in its place, naming file:line and why; every other row is read, and every
position the file holds is exactly one row."""

from __future__ import annotations

import json

import pytest

from runner.core.errors import ConfigError
from runner.sources import open_source, resolve_mapping
from runner.tasks import TASKS

COMMON = {"type": "file", "format": "auto", "column": None, "fields": {"text": None}, "id_column": None, "limit": None}


def rows_of(path, **cfg):
    source = open_source({**COMMON, "path": str(path), **cfg}, TASKS["text-classification"])
    return list(source.rows(resolve_mapping(source)))


def summary(rows):
    return [(r.index, r.error or r.fields["text"]) for r in rows]


def test_csv_field_over_the_csv_module_limit_is_a_text(tmp_path):
    long_text = "word " * 40_000  # 200 KB, over csv's default 131,072-character limit
    path = tmp_path / "d.csv"
    path.write_text(f'id,text\n1,short\n2,"{long_text}"\n3,after\n')
    rows = rows_of(path)
    assert [r.error for r in rows] == [None, None, None]
    assert rows[1].fields["text"] == long_text and rows[2].fields["text"] == "after"


def test_csv_bad_byte_spoils_its_row_only_even_in_a_quoted_field_spanning_lines(tmp_path):
    path = tmp_path / "d.csv"
    path.write_bytes(b'id,text\n1,good\n2,"two\nlines \xff here"\n3,"caf\xc3\xa9, fine"\n4,bad \xe9 latin-1\n5,last\n')
    rows = rows_of(path)
    assert summary(rows) == [
        (0, "good"),
        (1, "d.csv:3: byte 0xff is not UTF-8 (column 'text')"),
        (2, "café, fine"),
        (3, "d.csv:6: byte 0xe9 is not UTF-8 (column 'text')"),
        (4, "last"),
    ]


def test_csv_line_with_too_few_or_too_many_fields_is_an_error_row(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text('id,text,label\n1,fine,a\n2,missing label\n3,one,too,many\n\n4,"ok, quoted",b\n')
    assert summary(rows_of(path, column="text")) == [
        (0, "fine"),
        (1, "d.csv:3: 2 fields, the header has 3"),
        (2, "d.csv:4: 4 fields, the header has 3"),
        (3, "ok, quoted"),  # the blank line is no row
    ]


def test_csv_with_a_byte_order_mark_keeps_its_first_column_name(tmp_path):
    path = tmp_path / "d.csv"
    path.write_bytes(b"\xef\xbb\xbfid,text\nq1,hello\n")
    assert [(r.id, r.fields) for r in rows_of(path, column="text", id_column="id")] == [("q1", {"text": "hello"})]


def test_jsonl_bad_bytes_broken_lines_and_non_objects_are_error_rows(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_bytes(b'{"text": "one"}\n{"text": "b\xffd"}\n\n{"text": \n[1, 2]\n"just a string"\n{"text": "six"}\n')
    assert summary(rows_of(path)) == [
        (0, "one"),
        (1, "d.jsonl:2: byte 0xff is not UTF-8 (column 12)"),
        (2, "d.jsonl:4: invalid JSON (Expecting value)"),
        (3, "d.jsonl:5: expected a JSON object, got array"),
        (4, "d.jsonl:6: expected a JSON object, got string"),
        (5, "six"),
    ]


def test_jsonl_columns_come_from_the_first_readable_rows(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_bytes(b'{broken\n{"sentence": "a"}\n{"sentence": "b", "extra": 1}\n')
    source = open_source({**COMMON, "path": str(path), "column": "sentence"}, TASKS["text-classification"])
    assert source.columns() == ["sentence", "extra"]
    assert [r.fields["text"] for r in source.rows(resolve_mapping(source))] == [None, "a", "b"]


def test_json_array_elements_that_are_not_objects_or_not_utf8_are_error_rows(tmp_path):
    path = tmp_path / "d.json"
    path.write_bytes(b'[{"text": "a"}, "loose string", {"text": "b\xfe"}, 3, {"text": "c"}]')
    assert summary(rows_of(path)) == [
        (0, "a"),
        (1, "d.json: element 2: expected a JSON object, got string"),
        (2, "d.json: element 3: byte 0xfe is not UTF-8 (field 'text')"),
        (3, "d.json: element 4: expected a JSON object, got number"),
        (4, "c"),
    ]


def test_a_json_file_that_is_not_json_is_a_config_error_naming_the_place(tmp_path):
    path = tmp_path / "d.json"
    path.write_text('[{"text": "a"},\n {"text": }]')
    with pytest.raises(ConfigError) as caught:
        rows_of(path)
    assert caught.value.key == "dataset.path" and "line 2 column" in caught.value.message


def test_txt_line_that_is_not_utf8_is_an_error_row(tmp_path):
    path = tmp_path / "d.txt"
    path.write_bytes(b"first\r\nsec\x80ond\n\n   \nthird\n")
    assert summary(rows_of(path)) == [(0, "first"), (1, "d.txt:2: byte 0x80 is not UTF-8"), (2, "third")]


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".txt"])
def test_every_position_is_one_row_good_or_bad(tmp_path, suffix):
    """200 rows, every 7th spoiled by a byte that is not UTF-8: 200 rows out, the spoiled ones in error."""
    path = tmp_path / f"d{suffix}"
    lines = [b"text"] if suffix == ".csv" else []
    for i in range(200):
        text = f"row {i}".encode() + (b" \xff" if i % 7 == 3 else b"")
        lines.append(json.dumps({"text": "X"}).encode().replace(b"X", text) if suffix == ".jsonl" else text)
    path.write_bytes(b"\n".join(lines) + b"\n")
    rows = rows_of(path)
    assert [r.index for r in rows] == list(range(200))
    assert [r.index for r in rows if r.error] == [i for i in range(200) if i % 7 == 3]
    assert all(r.fields["text"] == f"row {r.index}" for r in rows if not r.error)
