"""The graph built from a config, its checks, and how it is shown."""

from __future__ import annotations

import pytest

from runner.core.errors import ConfigError
from runner.plan.graph import Edge, Graph, Node, check, render_mermaid, render_text
from runner.plan import make_plan
from runner.config.compose import compose_config
from tests.conftest import run_cli


def build_graph(overrides):
    return make_plan(compose_config(overrides)).graph


def test_one_step_graph_from_config():
    graph = build_graph(["+task=asr", "model=tiny"])
    assert graph.order() == ["source", "main", "predictions"]
    (step,) = graph.steps()
    assert step.consumes == {"audio": "audio"} and step.produces == {"text": "text", "chunks": "data"}


def test_modality_mismatch_is_rejected():
    graph = Graph(
        {
            "source": Node("source", "source", produces={"caption": "text"}),
            "classify": Node("classify", "step", consumes={"image": "image"}),
        },
        [Edge("source", "classify", {"image": "caption"})],
    )
    with pytest.raises(ConfigError, match="input 'image' wants image, gets text") as caught:
        check(graph)
    assert caught.value.key == "graph.steps.classify.input"


def test_missing_upstream_field_and_cycles_are_rejected():
    unfed = Graph(
        {
            "source": Node("source", "source", produces={"text": "text"}),
            "a": Node("a", "step", consumes={"text": "text"}),
        },
        [Edge("source", "a", {"text": "title"})],
    )
    with pytest.raises(ConfigError, match="needs 'title' from source"):
        check(unfed)
    cycle = Graph({"a": Node("a", "step"), "b": Node("b", "step")}, [Edge("a", "b", {}), Edge("b", "a", {})])
    with pytest.raises(ConfigError, match="cycle"):
        check(cycle)


def test_renderings_name_every_node():
    graph = build_graph(["+task=text-classification"])
    text, mermaid = render_text(graph), render_mermaid(graph)
    assert "distilbert/distilbert-base-uncased-finetuned-sst-2-english" in text
    assert mermaid.startswith("flowchart LR")
    assert 'source -->|"text"| main' in mermaid and "main -->" in mermaid


def test_graph_show_prints_and_runs_nothing(tmp_path):
    result = run_cli("+task=ner", "graph.show=true", f"hydra.run.dir={tmp_path}/out", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "token-classification" in result.stdout and "flowchart LR" in result.stdout
    assert not (tmp_path / "out" / "predictions.jsonl").exists()
