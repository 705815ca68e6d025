"""engine= config errors: exit code 2, naming the key, found before ray is imported or a run dir made."""

from __future__ import annotations

import sys

import pytest

TEXT = ["+task=text-classification", "model=tiny", "dataset=inline", "dataset.rows=[a,b]"]


def test_engine_ray_without_ray_installed_names_the_extra(tmp_path, monkeypatch):
    import runner
    from runner.core.errors import ConfigError

    monkeypatch.setitem(sys.modules, "ray", None)  # how Python blocks an import: is_installed says missing
    with pytest.raises(ConfigError) as caught:
        runner.run([*TEXT, "engine=ray"], output_dir=tmp_path / "out")
    assert caught.value.key == "engine" and "hf-pipeline-runner[ray]" in caught.value.render()
    assert not (tmp_path / "out" / "run.json").exists()


@pytest.mark.parametrize(
    "override, key",
    [
        ("batch_size=auto", "batch_size"),
        ("bench.enabled=true", "bench.enabled"),
        ("bench.isolation=process", "bench.isolation"),
    ],
)
def test_keys_ray_actors_cannot_honour_are_config_errors(tmp_path, override, key):
    pytest.importorskip("ray")
    import runner
    from runner.core.errors import ConfigError

    with pytest.raises(ConfigError) as caught:
        runner.run([*TEXT, "engine=ray", override], output_dir=tmp_path / "out")
    assert caught.value.key == key and "engine=ray" in caught.value.render()


def test_an_unknown_engine_lists_the_choices(tmp_path):
    import runner
    from runner.core.errors import ConfigError

    with pytest.raises(ConfigError) as caught:
        runner.run([*TEXT, "engine=spark"], output_dir=tmp_path / "out")
    assert "ray" in caught.value.render() and "local" in caught.value.render()


def test_more_actors_than_the_local_cluster_holds_fail_before_ray_starts(tmp_path):
    ray = pytest.importorskip("ray")
    if ray.is_initialized():
        pytest.skip("a Ray cluster is already connected: the run would join it")
    import runner
    from runner.core.errors import RunError

    with pytest.raises(RunError) as caught:  # Ray Data would wait forever for the third actor
        runner.run([*TEXT, "engine=ray", "engine.num_cpus=2", "engine.actors=3"], output_dir=tmp_path / "out")
    assert "need 3 CPUs; the local cluster has 2" in caught.value.message and "engine.actors" in caught.value.hint
    assert not ray.is_initialized()


@pytest.mark.slow  # starts (and stops) a local Ray cluster
def test_gpu_actors_on_a_machine_without_gpus_fail_instead_of_waiting(tmp_path):
    ray = pytest.importorskip("ray")
    if ray.is_initialized():
        pytest.skip("a Ray cluster is already connected: the run would join it")
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    import runner
    from runner.core.errors import RunError

    with pytest.raises(RunError) as caught:
        runner.run([*TEXT, "engine=ray", "engine.num_cpus=2", "engine.gpus_per_actor=1"], output_dir=tmp_path / "out")
    assert "need 1 GPUs" in caught.value.message and "gpus_per_actor" in caught.value.hint
    assert not ray.is_initialized()  # the cluster it started is stopped


def test_an_iterator_of_python_rows_cannot_go_to_ray(tmp_path):
    """A one-pass iterator lives in this process; Ray's read task runs elsewhere (a list is fine)."""
    pytest.importorskip("ray")
    import runner
    from runner.core.errors import ConfigError

    with pytest.raises(ConfigError) as caught:
        runner.run(
            "sentiment",
            inputs=iter(["good", "bad"]),
            model="tiny",
            progress=False,
            engine="ray",
            output_dir=tmp_path / "out",
        )
    assert caught.value.key == "engine" and "as a list" in caught.value.render()
    assert not (tmp_path / "out" / "run.json").exists()
