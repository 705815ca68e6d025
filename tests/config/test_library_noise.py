"""Quiet by default (issue 30): a library's own warnings (transformers, Ray) go to run.log, and to the screen
only with verbose=true; the runner's lines and any library's errors always show. Checked with the job
logging config a `run` job gets (conf/hydra/job_logging/runner.yaml), composed as the command composes it."""

from __future__ import annotations

import io
import logging
import logging.config

import pytest
from omegaconf import OmegaConf

from runner.config.search import ConfigSession
from runner.outputs.runlog import LibraryLogs, adopt_library_logger


@pytest.fixture
def job_logging(tmp_path):
    """logging as a `run` job with these overrides sets it up; yields (screen text, run.log text) readers."""
    saved = logging.getLogger().handlers[:], logging.getLogger().level
    screen = io.StringIO()

    def configure(*overrides):
        cfg = ConfigSession().compose(["+task=text-classification", *overrides])
        OmegaConf.update(cfg, "hydra.runtime.output_dir", str(tmp_path), force_add=True)
        config = OmegaConf.to_container(cfg.hydra.job_logging, resolve=True)
        config["handlers"]["console"]["stream"] = screen
        logging.config.dictConfig(config)
        return lambda: screen.getvalue(), lambda: (tmp_path / "run.log").read_text()

    yield configure
    root = logging.getLogger()
    for handler in root.handlers[:]:
        root.removeHandler(handler)
        handler.close()
    for handler in saved[0]:
        root.addHandler(handler)
    root.setLevel(saved[1])


def _library_lines():
    """What a library with handlers of its own logs (transformers' library root logger has one; Ray Data's
    has two: a session file and the screen)."""
    library = logging.getLogger("noisylib")
    own, second = logging.StreamHandler(io.StringIO()), logging.StreamHandler(io.StringIO())
    library.addHandler(own)
    library.addHandler(second)
    library.propagate = False
    try:
        with LibraryLogs():
            adopt_library_logger("noisylib")
            logging.getLogger("noisylib.sub").warning("a library warning")
            logging.getLogger("noisylib.sub").error("a library error")
            logging.getLogger("runner.x").warning("the runner's warning")
        assert library.handlers == [own, second] and library.propagate is False  # given back after the job
        return own.stream.getvalue() + second.stream.getvalue()
    finally:
        library.removeHandler(own)
        library.removeHandler(second)
        library.propagate = True


@pytest.mark.parametrize("verbose", [False, True])
def test_library_warnings_reach_run_log_and_the_screen_only_when_verbose(job_logging, verbose):
    screen, run_log = job_logging(*(["verbose=true"] if verbose else []))
    own_handler = _library_lines()
    assert own_handler == ""  # routed: not printed by the library's own handler
    assert "a library warning" in run_log() and "a library error" in run_log()
    assert ("a library warning" in screen()) is verbose
    assert "a library error" in screen() and "the runner's warning" in screen()
