"""Files that parse wrongly fail loudly and locally: an unclosed CSV quote, UTF-16/32 files, JSON nested
too deep, a row too large to read, ids that are not finite numbers (issue 29, class 2)."""

from __future__ import annotations

import json

import pytest

from runner.core.errors import ConfigError
from runner.sources import BAD_RECORD
from runner.sources.readers import Reading, csv_records, detect_encoding, json_records, jsonl_records, txt_records
from tests.conftest import read_jsonl, run_job

RUN = (
    "+task=text-classification",
    "model=tiny",
    "dataset=file",
    "batch_size=2",
    "progress=false",
    "max_error_fraction=1",
)


def _strict(line: str):
    def refuse(name):
        raise ValueError(f"non-strict JSON constant {name}")

    return json.loads(line, parse_constant=refuse)


def _records(reader, path, **kwargs):
    return list(reader(path, **kwargs))


# -- CSV quotes -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("where", [1, 3, 6])
def test_an_unclosed_quote_fails_its_row_and_the_rows_after_it_are_read(tmp_path, where):
    lines = ["id,text"] + [f"{i},row {i}" for i in range(1, 8)]
    lines[where] = f'{where},"unclosed {where}'
    path = tmp_path / "rows.csv"
    path.write_text("\n".join(lines) + "\n")
    records = _records(csv_records, path)
    assert len(records) == 7
    failed = [r for r in records if BAD_RECORD in r]
    assert len(failed) == 1 and f"rows.csv:{where + 1}:" in failed[0][BAD_RECORD]
    assert "never closed" in failed[0][BAD_RECORD]
    assert [r["id"] for r in records if BAD_RECORD not in r] == [str(i) for i in range(1, 8) if i != where]


def test_two_unclosed_quotes_fail_two_rows_only(tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text('id,text\n1,a\n2,"open\n3,b\n4,"open again\n5,c\n')
    records = _records(csv_records, path)
    assert [r.get("id") for r in records] == ["1", None, "3", None, "5"]


def test_a_quote_closed_lines_later_names_the_lines_it_swallowed(tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text('id,text\n1,"runs on\n2,x\n3,y",z\n4,d\n')
    records = _records(csv_records, path)
    assert BAD_RECORD in records[0] and "spans 3 lines" in records[0][BAD_RECORD]
    assert "rows.csv:2:" in records[0][BAD_RECORD] and "read again from line 3" in records[0][BAD_RECORD]
    assert records[1] == {"id": "2", "text": "x"} and records[-1] == {"id": "4", "text": "d"}


@pytest.mark.parametrize(
    "text,expected",
    [
        ('id,text\n1,"a ""quoted"" word"\n', {"id": "1", "text": 'a "quoted" word'}),
        ('id,text\n1,"two\nlines"\n', {"id": "1", "text": "two\nlines"}),
        ('id,text\r\n1,"crlf"\r\n', {"id": "1", "text": "crlf"}),
    ],
)
def test_well_formed_quotes_still_read(tmp_path, text, expected):
    path = tmp_path / "rows.csv"
    path.write_bytes(text.encode())
    assert _records(csv_records, path) == [expected]


def test_a_stray_character_after_a_closing_quote_fails_that_row(tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text('id,text\n1,"closed"junk\n2,fine\n')
    records = _records(csv_records, path)
    assert BAD_RECORD in records[0] and records[1] == {"id": "2", "text": "fine"}


# -- encodings ------------------------------------------------------------------------------------------
ROWS = [("1", "héllo wörld"), ("2", "日本語のテキスト"), ("3", "emoji 🙂")]


@pytest.mark.parametrize(
    "codec,bom",
    [
        ("utf-16-le", b"\xff\xfe"),
        ("utf-16-be", b"\xfe\xff"),
        ("utf-32-le", b"\xff\xfe\x00\x00"),
        ("utf-32-be", b"\x00\x00\xfe\xff"),
        ("utf-8", b"\xef\xbb\xbf"),
    ],
)
@pytest.mark.parametrize("fmt", ["csv", "jsonl", "txt", "json"])
def test_a_byte_order_mark_names_the_encoding(tmp_path, codec, bom, fmt):
    path = tmp_path / f"rows.{fmt}"
    if fmt == "csv":
        text = "id,text\n" + "".join(f"{i},{t}\n" for i, t in ROWS)
    elif fmt == "jsonl":
        text = "".join(json.dumps({"id": i, "text": t}, ensure_ascii=False) + "\n" for i, t in ROWS)
    elif fmt == "json":
        text = json.dumps([{"id": i, "text": t} for i, t in ROWS], ensure_ascii=False)
    else:
        text = "".join(t + "\n" for _, t in ROWS)
    path.write_bytes(bom + text.encode(codec))
    reading = Reading(detect_encoding(path))
    reader = {"csv": csv_records, "jsonl": jsonl_records, "json": json_records}.get(fmt)
    records = list(txt_records(path, reading)) if reader is None else list(reader(path, reading=reading))
    assert [r["text"] for r in records] == [t for _, t in ROWS]


def test_an_encoding_without_a_mark_is_read_as_told(tmp_path):
    path = tmp_path / "rows.csv"
    path.write_bytes("id,text\n1,café crème\n".encode("latin-1"))
    assert BAD_RECORD in _records(csv_records, path)[0]  # read as UTF-8 it fails, loudly
    reading = Reading(detect_encoding(path, "latin-1"))
    assert _records(csv_records, path, reading=reading) == [{"id": "1", "text": "café crème"}]


@pytest.mark.parametrize("setting", ["klingon", "base64", "rot13"])
def test_an_unknown_or_binary_encoding_is_a_config_error(tmp_path, setting):
    (tmp_path / "rows.csv").write_text("id,text\n1,a\n")
    with pytest.raises(ConfigError) as caught:
        detect_encoding(tmp_path / "rows.csv", setting)
    assert caught.value.key == "dataset.encoding"


@pytest.mark.parametrize(
    "override",
    [
        "dataset.encoding=klingon",
        "dataset.encoding=''",
        "dataset.max_row_bytes=0",
        "dataset.max_row_bytes=lots",
        "dataset.max_row_bytes=-5",
    ],
)
def test_bad_reading_keys_exit_2_naming_the_key(tmp_path, override, capsys):
    import runner

    (tmp_path / "rows.csv").write_text("id,text\n1,a\n")
    with pytest.raises(ConfigError) as caught:
        runner.run(
            [
                "+task=text-classification",
                "model=tiny",
                "dataset=file",
                f"dataset.path={tmp_path / 'rows.csv'}",
                override,
            ],
            output_dir=tmp_path / "out",
        )
    assert caught.value.key.startswith(override.split("=")[0]) and caught.value.exit_code == 2
    assert not (tmp_path / "out").exists()


# -- size and depth -------------------------------------------------------------------------------------
@pytest.mark.parametrize("size,fails", [(99, False), (100, False), (101, True), (5_000_000, True)])
def test_a_line_over_max_row_bytes_is_an_error_row_and_the_next_one_reads(tmp_path, size, fails):
    text = "x" * (size - len('{"text": ""}'))
    path = tmp_path / "rows.jsonl"
    path.write_text(json.dumps({"text": text}) + "\n" + json.dumps({"text": "after"}) + "\n")
    records = _records(jsonl_records, path, reading=Reading(max_row_bytes=100))
    assert (BAD_RECORD in records[0]) is fails and records[1] == {"text": "after"}
    if fails:
        assert f"{size:,} bytes" in records[0][BAD_RECORD] and "max_row_bytes=100" in records[0][BAD_RECORD]


def test_an_oversized_line_is_read_past_in_bounded_memory(tmp_path):
    import tracemalloc

    path = tmp_path / "rows.txt"
    with open(path, "wb") as f:
        for _ in range(40):
            f.write(b"y" * (1 << 20))
        f.write(b"\nshort\n")
    tracemalloc.start()
    records = list(txt_records(path, Reading(max_row_bytes=1 << 16)))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert BAD_RECORD in records[0] and records[1] == {"text": "short"}
    assert peak < 8 << 20  # a 40 MB line, never held


@pytest.mark.parametrize("size", [10, 1000])
def test_a_csv_field_over_max_row_bytes_fails_its_row(tmp_path, size):
    path = tmp_path / "rows.csv"
    path.write_text(f"id,text\n1,{'z' * size}\n2,ok\n")
    records = _records(csv_records, path, reading=Reading(max_row_bytes=100))
    assert (BAD_RECORD in records[0]) is (size > 100) and records[-1] == {"id": "2", "text": "ok"}


@pytest.mark.parametrize("opener", ["[", '{"a": '])
def test_json_nested_too_deep_is_an_error_row(tmp_path, opener):
    path = tmp_path / "rows.jsonl"
    path.write_text('{"text": "before"}\n' + '{"text": ' + opener * 200_000 + "\n" + '{"text": "after"}\n')
    records = _records(jsonl_records, path, reading=Reading(max_row_bytes=None))
    assert records[0] == {"text": "before"} and records[2] == {"text": "after"}
    assert "nested too deep" in records[1][BAD_RECORD]


def test_a_json_file_nested_too_deep_is_refused(tmp_path):
    path = tmp_path / "rows.json"
    path.write_text("[" * 200_000)
    with pytest.raises(ConfigError, match="nested too deep"):
        list(json_records(path))


# -- through the runner ---------------------------------------------------------------------------------
def test_hostile_rows_fail_alone_before_any_model_work_and_every_line_is_strict_json(tmp_path):
    lines = [
        '{"id": NaN, "text": "not a number id"}',
        '{"id": 2, "text": ' + "[" * 100_000 + "}",
        json.dumps({"id": 3, "text": "w " * 150_000}),
        '{"id": 1e999, "text": "infinite id"}',
        '{"id": -Infinity, "text": "minus infinity"}',
        json.dumps({"id": 6, "text": "short after"}),
    ]
    (tmp_path / "rows.jsonl").write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    result = run_job(
        *RUN,
        "dataset.path=rows.jsonl",
        "dataset.id_column=id",
        "dataset.max_row_bytes=200000",
        f"hydra.run.dir={out}",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    predicted = [_strict(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    errors = [_strict(line) for line in (out / "errors.jsonl").read_text().splitlines()]
    assert [p["id"] for p in predicted] == ["NaN", "Infinity", "-Infinity", 6]
    assert [e["index"] for e in errors] == [1, 2]
    assert "nested too deep" in errors[0]["error"] and "max_row_bytes=200,000" in errors[1]["error"]
    assert "retry" not in result.stderr  # failed at reading, never sent to the model


def test_a_utf16_csv_with_an_unclosed_quote_runs_every_other_row(tmp_path):
    text = 'id,text\n1,first\n2,"never closed\n3,third\n4,fourth\n'
    (tmp_path / "rows.csv").write_bytes(b"\xff\xfe" + text.encode("utf-16-le"))
    out = tmp_path / "out"
    result = run_job(*RUN, "dataset.path=rows.csv", "dataset.id_column=id", f"hydra.run.dir={out}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert [p["id"] for p in read_jsonl(out / "predictions.jsonl")] == ["1", "3", "4"]
    assert "rows.csv:3" in read_jsonl(out / "errors.jsonl")[0]["error"]
    assert "\x00" not in (out / "predictions.jsonl").read_text()
