"""The `tracking` config (conf/tracking/none.yaml, mlflow.yaml), read without importing mlflow."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from runner.core.errors import ConfigError
from runner.core.extras import is_installed

# Where runs land when tracking.tracking_uri is null and MLFLOW_TRACKING_URI is unset: one SQLite store
# under the directory `run` is started from, beside outputs/ and multirun/, so single runs and sweeps
# share it. SQLite, not MLflow's ./mlruns file store: MLflow 3 refuses a file store unless told
# MLFLOW_ALLOW_FILE_STORE=true (it is in maintenance mode).
DEFAULT_STORE = Path("mlruns") / "mlflow.db"
ARTIFACTS = "artifacts"  # beside the store's database: <store dir>/artifacts/<experiment id>/<run id>
EXTRA_HINT = "pip install 'hf-pipeline-runner[mlflow]' (or pick tracking=none)"
# What the [mlflow] extra must provide: the client, and SQLAlchemy for a sqlite:// store.
NEEDED = {"mlflow": "mlflow", "sqlalchemy": "sqlalchemy", "alembic": "alembic"}


@dataclass(frozen=True)
class TrackingSettings:
    backend: str = "none"  # none | mlflow
    tracking_uri: str | None = None
    experiment: str | None = None
    run_name: str | None = None
    tags: dict = field(default_factory=dict)
    log_predictions: bool = True

    @classmethod
    def from_config(cls, cfg) -> TrackingSettings:
        """From the config's `tracking` node (a dict or a DictConfig); none when it is absent."""
        node = cfg.get("tracking") if cfg is not None else None
        if not node:
            return cls()
        node = dict(node)
        tags = {str(k): str(v) for k, v in dict(node.get("tags") or {}).items()}
        return cls(
            str(node.get("backend") or "none"),
            node.get("tracking_uri"),
            node.get("experiment"),
            node.get("run_name"),
            tags,
            bool(node.get("log_predictions", True)),
        )

    @property
    def enabled(self) -> bool:
        return self.backend == "mlflow"

    def experiment_for(self, config) -> str:
        """tracking.experiment, else the task id of the config (a dict or a DictConfig): runs of one
        task share their metrics, and a sweep over models lands in one experiment; else "runner"."""
        if self.experiment:
            return str(self.experiment)
        from runner.tasks import canonical_task_id

        task = config.get("task") if config is not None else None
        name = task.get("name") if hasattr(task, "get") else None
        return (canonical_task_id(str(name)) or "runner") if name else "runner"

    def store_uri(self, cwd: Path | None = None) -> str:
        """The tracking URI, made absolute against `cwd` (a job may run in another process or dir)."""
        uri = self.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI")
        base = Path(cwd or Path.cwd())
        if not uri:
            return f"sqlite:///{(base / DEFAULT_STORE).resolve()}"
        if uri.startswith("sqlite:///") and not uri.startswith("sqlite:////"):
            return f"sqlite:///{(base / uri[len('sqlite:///') :]).resolve()}"
        if "://" not in uri and not uri.startswith("file:"):  # a plain folder: MLflow's file store
            return (base / uri).resolve().as_uri()
        return uri

    def artifact_root(self, uri: str) -> str | None:
        """For a SQLite store, artifacts beside its database (MLflow's own default is ./mlruns of
        whatever directory the process runs in); other stores keep their own default."""
        if uri.startswith("sqlite:///"):
            return (Path(uri[len("sqlite:///") :]).parent / ARTIFACTS).as_uri()
        return None


def check_tracking(cfg: dict) -> None:
    """ConfigError (exit code 2, before any run dir) when tracking=mlflow but the extra is missing."""
    settings = TrackingSettings.from_config(cfg)
    if not settings.enabled:
        return
    missing = [pypi for module, pypi in NEEDED.items() if not is_installed(module)]
    if missing:
        raise ConfigError("tracking", f"tracking=mlflow needs {missing_text(missing)}", EXTRA_HINT)


def missing_text(missing: list[str]) -> str:
    """'mlflow, which is not installed' or 'sqlalchemy and alembic, which are not installed'."""
    listed = missing[0] if len(missing) == 1 else f"{', '.join(missing[:-1])} and {missing[-1]}"
    return f"{listed}, which {'is' if len(missing) == 1 else 'are'} not installed"
