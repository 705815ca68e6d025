"""A corpus of bad configs, each as a user would type it: exit code 2, a message naming the key, no
traceback, in under 3 s, and no model loaded. One class per mistake the runner has seen users make
(typos, wrong types, floats and 1e300s for integers, out-of-range values, missing or damaged files,
local model paths that are not there, bad resume/rerun/merge targets, override syntax).

The command runs in this process (tests/config/conftest.py: run_in_process, no_model_loads); a few
cases also go through a real subprocess (test_through_the_command) to see stderr and the exit code as
a shell does.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli, write_png

TC = "+task=text-classification"
TG = "+task=text-generation"


def case(name, argv, key, text, marks=()):
    return pytest.param(argv, key, text, id=name, marks=marks)


CORPUS = [
    # -- floats and 1e300s given for integer keys (JSON Schema counts 2.0 as an integer; we do not)
    case("batch_size float huge", [TC, "batch_size=1e300"], "batch_size", "expected integer, got the float 1e+300"),
    case("batch_size float whole", [TC, "batch_size=2.0"], "batch_size", "got the float 2.0"),
    case("shard.count float huge", [TC, "shard.count=1e300"], "shard.count", "got the float 1e+300"),
    case("shard.index float", [TC, "shard.count=2", "shard.index=1.0"], "shard.index", "got the float 1.0"),
    case("max_new_tokens float huge", [TG, "task.params.max_new_tokens=1e300"], "task.params.max_new_tokens", "float"),
    case("num_beams float", [TG, "task.params.num_beams=2.5"], "task.params.num_beams", "float 2.5"),
    case("top_k float", [TC, "task.params.top_k=3.0"], "task.params.top_k", "float 3.0"),
    case("dataset.limit float", [TC, "dataset.limit=1e3"], "dataset.limit", "float 1000.0"),
    case("dataset.skip float", [TC, "dataset.skip=0.5"], "dataset.skip", "float 0.5"),
    case("bench.max_rows float", [TC, "bench.max_rows=1e300"], "bench.max_rows", "float"),
    case("window_batches float", [TC, "batching.window_batches=4.0"], "batching.window_batches", "float"),
    case(
        "asr max_new_tokens float",
        ["+task=asr", "task.params.max_new_tokens=1e2"],
        "task.params.max_new_tokens",
        "float",
    ),
    case("qa doc_stride float", ["+task=qa", "task.params.doc_stride=1e300"], "task.params.doc_stride", "float"),
    case("seed float", [TC, "seed=1e3"], "seed", "float 1000.0"),
    case(
        "step batch_size float",
        ["+graph.steps.a.task=ner", "+graph.steps.a.batch_size=1e300"],
        "graph.steps.a.batch_size",
        "float",
    ),
    # -- integers out of range: nonsense sizes, and ints beyond int64 (what islice, numpy, torch take)
    case("batch_size above 65536", [TC, "batch_size=65537"], "batch_size", "must be <= 65536"),
    case("batch_size 10**30", [TC, "batch_size=1000000000000000000000000000000"], "batch_size", "<= 65536"),
    case(
        "max_new_tokens above 2**20",
        [TG, "task.params.max_new_tokens=2000000"],
        "task.params.max_new_tokens",
        "allowed: 1..1048576",
    ),
    case("num_beams above 1024", [TG, "task.params.num_beams=100000"], "task.params.num_beams", "<= 1024"),
    case(
        "num_return_sequences zero",
        [TG, "task.params.num_return_sequences=0"],
        "task.params.num_return_sequences",
        ">= 1",
    ),
    case(
        "summarization min_length huge",
        ["+task=summarization", "task.params.min_length=99999999"],
        "task.params.min_length",
        "<= 1048576",
    ),
    case(
        "dataset.limit beyond int64",
        [TC, "dataset.limit=100000000000000000000"],
        "dataset.limit",
        "<= 9223372036854775807",
    ),
    case("dataset.skip beyond int64", [TC, "dataset.skip=10000000000000000000"], "dataset.skip", "<="),
    case("shard.count above 65536", [TC, "shard.count=100000"], "shard.count", "allowed: 1..65536"),
    case("bench.max_batch_size huge", [TC, "bench.max_batch_size=1000000"], "bench.max_batch_size", "<= 65536"),
    case("bench.probe_rows zero", [TC, "bench.probe_rows=0"], "bench.probe_rows", ">= 1"),
    case("bench.repeats zero", [TC, "bench.repeats=0"], "bench.repeats", ">= 1"),
    case("bench.min_seconds negative", [TC, "bench.min_seconds=-1"], "bench.min_seconds", ">= 0"),
    case("temperature nan", [TG, "task.params.temperature=nan"], "task.params.temperature", "expected number"),
    case("temperature inf", [TG, "task.params.temperature=inf"], "task.params.temperature", "expected number"),
    case("top_p above 1", [TG, "task.params.top_p=1.5"], "task.params.top_p", "<= 1"),
    case("max_seconds negative", [TC, "bench.max_seconds=-1"], "bench.max_seconds", "> 0"),
    # -- seed: numpy takes 0..2**32-1
    case("seed 2**32", [TC, "seed=4294967296"], "seed", "allowed: 0..4294967295"),
    case("seed 2**64", [TC, "seed=18446744073709551616"], "seed", "<= 4294967295"),
    case("seed negative range", [TC, "seed=-5"], "seed", "allowed: 0..4294967295"),
    case("seed text", [TC, "seed=abc"], "seed", "expected integer"),
    # -- model.id that looks like a local path and is not there (did you mean among its siblings)
    case("model.id ./ typo", [TC, "model.id=./models/bert_tiny"], "model.id", "did you mean './models/bert-tiny'"),
    case("model.id org is a folder", [TC, "model.id=models/bert_tiny"], "model.id", "did you mean 'models/bert-tiny'"),
    case("model.id two slashes", [TC, "model.id=models/bert-tiny/v2"], "model.id", "does not exist"),
    case("model.id ../", [TC, "model.id=../no-such-model-here"], "model.id", "looks like a local path"),
    case("model.id absolute", [TC, "model.id=/no/such/model"], "model.id", "does not exist"),
    case("model.id trailing slash", [TC, "model.id=checkpoint/"], "model.id", "does not exist"),
    case("model.id is a file", [TC, "model.id=./data/good.csv"], "model.id", "is a file, not a model folder"),
    case(
        "model.id in a step",
        ["+graph.steps.a.task=ner", "+graph.steps.a.model.id=./models/nope"],
        "graph.steps.a.model.id",
        "does not exist",
    ),
    case("model.id empty", [TC, "model.id=''"], "model.id", "must not be empty"),
    # -- rerun= of a dir whose run.json / metrics.json is damaged, or that is no run dir
    case("rerun run.json truncated", ["rerun=runs/truncated"], "rerun", "run.json is not valid JSON (cut short?)"),
    case("rerun run.json empty", ["rerun=runs/empty"], "rerun", "run.json is empty"),
    case("rerun run.json array", ["rerun=runs/array"], "rerun", "holds an array, not a JSON object"),
    case("rerun run.json bad bytes", ["rerun=runs/binary"], "rerun", "is not UTF-8"),
    case("rerun metrics.json truncated", ["rerun=runs/bad_metrics"], "rerun", "metrics.json is not valid JSON"),
    case("rerun no config", ["rerun=runs/no_config"], "rerun", "holds no config"),
    case("rerun no run.json", ["rerun=data"], "rerun", "has no run.json"),
    case("rerun missing dir", ["rerun=runs/never"], "rerun", "has no run.json"),
    case("rerun group choice", ["rerun=runs/ok", "model=tiny"], "rerun", "picks a config group option"),
    # -- resume= of a dir that cannot be resumed
    case("resume run.json truncated", [TC, "resume=runs/truncated"], "resume", "run.json is not valid JSON"),
    case("resume run.json number", [TC, "resume=runs/number"], "resume", "holds a number, not a JSON object"),
    case("resume metrics.json truncated", [TC, "resume=runs/bad_metrics"], "resume", "metrics.json is not valid"),
    case("resume metrics.json list", [TC, "resume=runs/list_metrics"], "resume", "metrics.json holds an array"),
    case("resume not a run dir", [TC, "resume=data"], "resume", "is not a run directory"),
    case(
        "resume other config",
        [TC, "model=tiny", "dataset=inline", "dataset.rows=[a,b]", "resume=runs/ok"],
        "resume",
        "the config differs",
    ),
    # -- merge= of a multirun whose jobs are damaged, or that is no multirun
    case("merge job run.json truncated", ["merge=multi/truncated"], "merge", "run.json is not valid JSON"),
    case("merge job metrics.json truncated", ["merge=multi/bad_metrics"], "merge", "metrics.json is not valid JSON"),
    case("merge job .hydra yaml broken", ["merge=multi/bad_yaml"], "merge", "is not valid YAML"),
    case("merge job without shard", ["merge=multi/no_shard"], "merge", "integer shard.index and shard.count"),
    case("merge no jobs", ["merge=data"], "merge", "holds no job dirs"),
    case("merge not a dir", ["merge=data/good.csv"], "merge", "is not a directory"),
    case("merge with other args", ["merge=multi/truncated", "seed=3"], "merge", "merge takes no other arguments"),
    case("merge jobs differ", ["merge=multi/mixed"], "merge", "not only in shard"),
    # -- data files and folders: missing, of the wrong kind, empty, unmatched (checked before the model loads)
    case("file missing", [TC, "dataset=file", "dataset.path=data/nope.jsonl"], "dataset.path", "does not exist"),
    case("file is a folder", [TC, "dataset=file", "dataset.path=data"], "dataset.path", "is not"),
    case(
        "folder is a file",
        ["+task=image-classification", "dataset=folder", "dataset.path=data/good.csv"],
        "dataset.path",
        "is not",
    ),
    case(
        "folder missing",
        ["+task=image-classification", "dataset=folder", "dataset.path=nowhere"],
        "dataset.path",
        "does not exist",
    ),
    case(
        "folder unmatched extensions",
        ["+task=image-classification", "dataset=folder", "dataset.path=images", "dataset.extensions=[.tif]"],
        "dataset.path",
        ".tif",
    ),
    case(
        "folder empty",
        ["+task=image-classification", "dataset=folder", "dataset.path=empty_dir"],
        "dataset.path",
        "empty_dir",
    ),
    case(
        "column absent",
        [TC, "dataset=file", "dataset.path=data/good.csv", "dataset.column=body"],
        "dataset.column",
        "not in the data",
    ),
    case(
        "qa question column absent",
        ["+task=qa", "dataset=file", "dataset.path=data/good.csv"],
        "dataset.column",
        "no column feeds the task input 'question'",
    ),
    case(
        "jsonl field absent",
        [TC, "dataset=file", "dataset.path=data/other.jsonl"],
        "dataset.column",
        "no column feeds the task input 'text'",
    ),
    case(
        "mapped column absent",
        [
            "+task=qa",
            "dataset=file",
            "dataset.path=data/good.csv",
            "dataset.fields.question=text",
            "dataset.fields.context=ctx",
        ],
        "dataset.fields.context",
        "'ctx'",
    ),
    case("file empty", [TC, "dataset=file", "dataset.path=data/empty.csv"], "dataset", "empty"),
    case("jsonl empty", [TC, "dataset=file", "dataset.path=data/empty.jsonl"], "dataset", "empty"),
    case(
        "text column to image task",
        ["+task=image-classification", "dataset=file", "dataset.path=data/good.csv", "dataset.column=text"],
        "dataset",
        "image",
    ),
    # -- dataset options
    case(
        "format unknown",
        [TC, "dataset=file", "dataset.path=data/good.csv", "dataset.format=tsv"],
        "dataset.format",
        "did you mean 'csv'",
    ),
    case(
        "dataset key typo",
        [TC, "dataset=file", "dataset.path=data/good.csv", "+dataset.formt=csv"],
        "dataset.formt",
        "did you mean 'format'",
    ),
    case("inline rows empty", [TC, "dataset=inline", "dataset.rows=[]"], "dataset.rows", "must not be empty"),
    case("hf without name", [TC, "dataset=hf", "dataset.split=train"], "dataset.name", "is required"),
    case(
        "extensions without dot",
        ["+task=image-classification", "dataset=folder", "dataset.path=images", "dataset.extensions=[png]"],
        "dataset.extensions.0",
        "is not valid",
    ),
    case(
        "fields for another task",
        [TC, "dataset.fields.question=q"],
        "dataset.fields.question",
        "not an input of task text-classification",
    ),
    # -- task parameters of several tasks
    case(
        "ner aggregation",
        ["+task=ner", "task.params.aggregation_strategy=biggest"],
        "task.params.aggregation_strategy",
        "is not allowed",
    ),
    case("fill-mask top_k zero", ["+task=fill-mask", "task.params.top_k=0"], "task.params.top_k", ">= 1"),
    case("qa max_answer_len zero", ["+task=qa", "task.params.max_answer_len=0"], "task.params.max_answer_len", ">= 1"),
    case(
        "zero-shot labels empty",
        ["+task=zero-shot", "task.params.candidate_labels=[]"],
        "task.params.candidate_labels",
        "must not be empty",
    ),
    case(
        "detection threshold text",
        ["+task=detection", "task.params.threshold=high"],
        "task.params.threshold",
        "expected number",
    ),
    case(
        "classification function",
        [TC, "task.params.function_to_apply=relu"],
        "task.params.function_to_apply",
        "is not allowed",
    ),
    case("param of another task", [TC, "+task.params.max_new_tokens=5"], "task.params.max_new_tokens", "unknown key"),
    case(
        "summarization num_beams zero",
        ["+task=summarization", "task.params.num_beams=0"],
        "task.params.num_beams",
        ">= 1",
    ),
    # -- device, dtype, quantization combinations
    case("device cuda index text", [TC, "device=cuda:x"], "device", "is not valid"),
    case("device cuda:1 absent", [TC, "device=cuda:1"], "device", "no CUDA device"),
    case("dtype fp16", [TC, "dtype=fp16"], "dtype", "is not allowed"),
    case(
        "8bit with quant_type",
        [TC, "quantization=8bit", "+quantization.quant_type=nf4"],
        "quantization.quant_type",
        "unknown key",
    ),
    case(
        "4bit compute dtype",
        [TC, "quantization=4bit", "quantization.compute_dtype=float8"],
        "quantization.compute_dtype",
        "is not allowed",
    ),
    case("4bit on mps", [TC, "quantization=4bit", "device=mps"], "quantization", "no mps backend"),
    case("model sources both", [TC, "model=minilm", "model.id=gpt2"], "model.package", "are both set"),
    # -- output formats
    case("output format json", [TC, "output.format=json"], "output.format", "did you mean 'jsonl'"),
    case("output format twice", [TC, "output.format=[csv,csv]"], "output.format", "names a value twice"),
    case("output steps", [TC, "output.steps=every"], "output.steps", "is not allowed"),
    # -- shard index/count combinations
    case("shard index above count", [TC, "shard.count=4", "shard.index=7"], "shard.index", "shard.index=0..3"),
    case("shard index equals count", [TC, "shard.count=1", "shard.index=1"], "shard.index", "is not below"),
    case("shard count text", [TC, "shard.count=many"], "shard.count", "expected integer"),
    # -- override syntax Hydra cannot parse, and keys that do not exist
    case("unclosed quote", [TC, "dataset.column='text"], "dataset.column", "cannot parse"),
    case("unclosed brace", [TC, "task.params={top_k: 2"], "task.params", "cannot parse"),
    case("double equals", [TC, "batch_size==4"], "batch_size", ""),
    case("unknown top key", [TC, "+batchsize=4"], "batchsize", "did you mean 'batch_size'"),
    case("unknown model key", [TC, "+model.revison=main"], "model.revison", "did you mean 'revision'"),
    case("task typo", ["+task=text-clasification"], "task", "did you mean 'text-classification'"),
    case("experiment typo", ["+experiment=tiny_sentimen"], "experiment", "did you mean 'tiny_sentiment'"),
    case("on_error typo", [TC, "on_error=recrod"], "on_error", "did you mean 'record'"),
]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    """A user's folder: data files, model folders, run dirs and multiruns, some of them damaged."""
    root = tmp_path_factory.mktemp("workspace")
    (root / "data").mkdir()
    (root / "data" / "good.csv").write_text("text,label\nfine,1\n")
    (root / "data" / "empty.csv").write_text("")
    (root / "data" / "empty.jsonl").write_text("")
    (root / "data" / "other.jsonl").write_text('{"title": "a", "body": "b"}\n')
    (root / "empty_dir").mkdir()
    write_png(root / "images" / "a.png")
    for name in ("bert-tiny", "gpt2-small"):
        (root / "models" / name).mkdir(parents=True)
    _write_runs(root / "runs")
    _write_multiruns(root / "multi")
    return root


def _write_runs(runs: Path) -> None:
    files = {
        "truncated": {"run.json": '{"status": "ok", "config": {"seed": '},
        "empty": {"run.json": ""},
        "array": {"run.json": "[1, 2]"},
        "number": {"run.json": "42"},
        "binary": {"run.json": b'{"status": "\xff\xfe"}'},
        "bad_metrics": {
            "run.json": json.dumps({"status": "ok", "config": {"seed": 0}}),
            "metrics.json": '{"rows_in": 3,',
        },
        "list_metrics": {"run.json": json.dumps({"status": "interrupted", "config": {}}), "metrics.json": "[]"},
        "no_config": {"run.json": json.dumps({"status": "ok"})},
        "ok": {"run.json": json.dumps({"status": "interrupted", "config": {"seed": 0, "batch_size": 8}})},
    }
    _write_tree(runs, files)


def _write_multiruns(multi: Path) -> None:
    def job(index, count=2, **extra):
        return json.dumps({"status": "ok", "config": {"seed": 0, "shard": {"index": index, "count": count}, **extra}})

    files = {
        "truncated/0": {"run.json": job(0)},
        "truncated/1": {"run.json": job(1)[:30]},
        "bad_metrics/0": {"run.json": job(0, 1), "predictions.jsonl": '{"index": 0}\n', "metrics.json": "{"},
        "bad_yaml/0": {"run.json": job(0)},
        "bad_yaml/1/.hydra": {"config.yaml": "shard: {index: 1, count: [2\n"},
        "no_shard/0": {"run.json": json.dumps({"status": "ok", "config": {"shard": {"index": "zero", "count": 1}}})},
        "mixed/0": {"run.json": job(0)},
        "mixed/1": {"run.json": job(1, seed=5)},
    }
    _write_tree(multi, files)


def _write_tree(root: Path, files: dict) -> None:
    for folder, contents in files.items():
        (root / folder).mkdir(parents=True, exist_ok=True)
        for name, data in contents.items():
            path = root / folder / name
            path.write_bytes(data) if isinstance(data, bytes) else path.write_text(data)


@pytest.mark.parametrize("argv,key,text", CORPUS)
def test_bad_config(workspace, tmp_path, capfd, run_in_process, argv, key, text):
    hydra_dir = [] if argv[0].startswith("merge=") else [f"hydra.run.dir={tmp_path}/out"]
    code = run_in_process([*argv, *hydra_dir], workspace)
    stderr = capfd.readouterr().err
    assert code == 2, stderr
    assert f"config error: {key}" in stderr or f"- {key}:" in stderr, stderr
    assert text in stderr, stderr
    assert "Traceback" not in stderr


def test_the_corpus_covers_enough_mistakes():
    assert len(CORPUS) >= 80


# A few of the corpus through a real `run` subprocess: the exit code and stderr a shell sees.
THROUGH_THE_COMMAND = [
    "batch_size float huge",
    "seed 2**32",
    "model.id ./ typo",
    "rerun run.json truncated",
    "resume metrics.json truncated",
    "merge job .hydra yaml broken",
    "unclosed brace",
    "max_new_tokens float huge",
]


@pytest.mark.parametrize("name", THROUGH_THE_COMMAND)
def test_through_the_command(workspace, tmp_path, name):
    argv, key, text = next(p.values for p in CORPUS if p.id == name)
    hydra_dir = [] if argv[0].startswith("merge=") else [f"hydra.run.dir={tmp_path}/out"]
    result = run_cli(*argv, *hydra_dir, cwd=workspace)
    assert result.returncode == 2, result.stderr
    assert key in result.stderr and text in result.stderr
    assert "Traceback" not in result.stderr
