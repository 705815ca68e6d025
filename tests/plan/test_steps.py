"""graph.steps: chains written in YAML, checked before any model loads; every mistake names its step and key."""

from __future__ import annotations

import pytest

from runner.config.compose import compose_config
from runner.core.errors import ConfigError
from runner.plan import make_plan
from tests.conftest import run_cli

CHAIN = [
    "+graph.steps.transcribe.task=asr",
    "+graph.steps.transcribe.model=tiny",
    "+graph.steps.transcribe.input=audio",
    "+graph.steps.summarize.task=summarize",
    "+graph.steps.summarize.model=tiny",
    "+graph.steps.summarize.input=transcribe.text",
]


def plan(*overrides):
    return make_plan(compose_config(list(overrides)))


def error_keys(*overrides) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        plan(*overrides)
    return [e.key for e in getattr(caught.value, "errors", [caught.value])]


def test_a_chain_becomes_a_graph_with_its_edges():
    chain = plan(*CHAIN)
    assert chain.graph.order() == ["source", "transcribe", "summarize", "predictions"]
    assert chain.graph.inputs == {
        "transcribe": {"audio": ("source", "audio")},
        "summarize": {"text": ("transcribe", "text")},
    }
    assert chain.source_mapping == {"audio": "audio"}
    assert chain.steps["summarize"]["task"]["name"] == "summarization"
    assert chain.steps["transcribe"]["model"]["tiny"] == "auto"
    assert chain.steps["summarize"]["batch_size"] == 1  # inherited from the top level


def test_steps_override_top_level_keys_and_read_presets():
    chain = plan(
        *CHAIN,
        "batch_size=4",
        "+graph.steps.summarize.batch_size=2",
        "+graph.steps.summarize.params.max_new_tokens=5",
        "+graph.steps.transcribe.quantization=none",
    )
    assert (chain.steps["transcribe"]["batch_size"], chain.steps["summarize"]["batch_size"]) == (4, 2)
    assert chain.steps["summarize"]["task"]["params"] == {"max_new_tokens": 5}
    whisper = plan(
        "+graph.steps.a.task=asr", "+graph.steps.a.model=whisper", "+graph.steps.a.input=audio", "graph.show=true"
    )
    assert whisper.steps["a"]["model"]["id"] == "openai/whisper-large-v3"


def test_a_later_step_defaults_to_the_previous_steps_output():
    chain = plan(*[o for o in CHAIN if not o.startswith("+graph.steps.summarize.input")])
    assert chain.graph.inputs["summarize"] == {"text": ("transcribe", "text")}


@pytest.mark.parametrize(
    "overrides,key",
    [
        (["+graph.steps.summarize.input=transcrib.text"], "graph.steps.summarize.input"),
        (["+graph.steps.summarize.input=transcribe.words"], "graph.steps.summarize.input"),
        (["+graph.steps.summarize.input=nosuchcolumn"], "graph.steps.summarize.input"),
        (["+graph.steps.summarize.input=summarize.summary_text"], "graph.steps.summarize.input"),
        (["+graph.steps.summarize.model=tinyy"], "graph.steps.summarize.model"),
        (["+graph.steps.summarize.task=summarise"], "graph.steps.summarize.task"),
        (["+graph.steps.summarize.params.max_new_tokens=-1"], "graph.steps.summarize.params.max_new_tokens"),
        (["+graph.steps.summarize.batch_size=0"], "graph.steps.summarize.batch_size"),
        (["+graph.steps.summarize.device=gpu"], "graph.steps.summarize.device"),
        (["+graph.steps.summarize.colour=red"], "graph.steps.summarize.colour"),
        (["+graph.steps.summarize.output=transcribe"], "graph.steps.summarize.output"),
        (
            ["+graph.steps.summarize.input.text=transcribe.text", "+graph.steps.summarize.input.image=source.image"],
            "graph.steps.summarize.input.image",
        ),
        (["+task=asr"], "task"),
    ],
    ids=lambda v: v if isinstance(v, str) else " ".join(v),
)
def test_graph_mistakes_name_the_step_and_key(overrides, key):
    base = [o for o in CHAIN if not any(o.split("=")[0] == x.split("=")[0] for x in overrides)]
    assert key in error_keys(*base, *overrides)


def test_modality_mismatch_names_the_step():
    keys = error_keys(
        "+graph.steps.caption.task=caption",
        "+graph.steps.classify.task=image-classification",
        "+graph.steps.classify.input=caption.generated_text",
    )
    assert keys == ["graph.steps.classify.input"]


def test_a_cycle_is_rejected():
    with pytest.raises(ConfigError, match="cycle") as caught:
        plan(
            "+graph.steps.a.task=summarize",
            "+graph.steps.a.input=b.summary_text",
            "+graph.steps.b.task=summarize",
            "+graph.steps.b.input=a.summary_text",
        )
    assert caught.value.key == "graph.steps"


def test_graph_errors_exit_2_and_show_prints_the_chain(tmp_path):
    bad = run_cli(*CHAIN[:-1], "+graph.steps.summarize.input=transcribe.txt", cwd=tmp_path)
    assert bad.returncode == 2
    assert "graph.steps.summarize.input" in bad.stderr and "did you mean 'text'" in bad.stderr
    shown = run_cli(*CHAIN, "graph.show=true", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert (
        "transcribe -->" in shown.stdout and "summarize -->" in shown.stdout and "--(text)--> summarize" in shown.stdout
    )


def test_resume_needs_a_run_directory(tmp_path):
    with pytest.raises(ConfigError, match="is not a run directory") as caught:
        plan("+task=text-classification", f"resume={tmp_path}")
    assert caught.value.key == "resume"


def test_the_plan_owns_the_views_of_its_config_built_once():
    """plan.views and plan.step_views: what the job and the engine read (engine=ray pickles them to its actors)."""
    import pickle

    from runner.config.engine import EngineSettings
    from runner.core.views import ConfigViews, StepView

    chain = plan(
        *CHAIN,
        "batching.sort_by_length=true",
        "batching.window_batches=4",
        "shard.count=2",
        "+graph.steps.summarize.batch_size=3",
    )
    assert chain.views == ConfigViews.from_config(chain.cfg)
    assert list(chain.step_views) == list(chain.steps)
    for name, step in chain.steps.items():
        assert chain.step_views[name] == StepView.from_config(step)
    assert chain.step_views["summarize"].run.batch_size == 3 and chain.step_views["summarize"].output == "summarize"
    # the unit a shard owns: the largest step batch size times the sorting window (sources/sharding.batch_unit)
    from runner.sources.sharding import batch_unit

    assert chain.batch_unit == 3 * 4 == batch_unit(chain.cfg)  # merge's, from the config a shard saved
    assert chain.shard == {"index": 0, "count": 2, "unit": 12}
    assert pickle.loads(pickle.dumps((chain.views, chain.step_views))) == (chain.views, chain.step_views)
    assert chain.engine == EngineSettings.from_config(chain.cfg) and chain.engine.name == "local"
