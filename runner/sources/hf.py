"""Anything `datasets.load_dataset` takes: a hub name, a local folder, or a builder with data_files."""
from __future__ import annotations

from runner.errors import RunError
from runner.sources import Source


class HFSource(Source):
    def __init__(self, cfg, spec):
        super().__init__(cfg, spec)
        self._dataset = None

    def dataset(self):
        if self._dataset is None:
            self._dataset = self._load()
        return self._dataset

    def _load(self):
        import datasets

        cfg = self.cfg
        kwargs = {k: cfg[k] for k in ("data_files", "data_dir", "revision") if cfg.get(k) is not None}
        try:
            return datasets.load_dataset(
                cfg["name"], cfg.get("config"), split=cfg.get("split", "train"),
                streaming=bool(cfg.get("streaming")), **kwargs,
            )
        except Exception as error:  # datasets raises many types; the cause is in the message
            raise RunError(
                f"dataset.name={cfg['name']!r}: could not load it ({type(error).__name__}: {error})",
                "check dataset.name/config/split/data_files; a hub dataset needs the network or a local cache",
            ) from error

    def columns(self) -> list[str]:
        dataset = self.dataset()
        if dataset.column_names is not None:
            return list(dataset.column_names)
        first = next(iter(dataset), None)  # streaming datasets may not know their features up front
        return list(first) if first else []

    def size(self) -> int | None:
        dataset = self.dataset()
        return len(dataset) if hasattr(dataset, "__len__") else None

    def records(self):
        yield from enumerate(self.dataset())
