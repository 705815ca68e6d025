"""Anything `datasets.load_dataset` takes (a hub name, a local folder, a builder with data_files), and
folders written by `save_to_disk`, which only `load_from_disk` reads."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from runner.core.errors import ConfigError, RunError
from runner.sources import BAD_RECORD, Source, SourceType
from runner.sources.sharding import rows_after

# What Dataset.save_to_disk and DatasetDict.save_to_disk write at the top of their folder.
SAVED_MARKERS = ("state.json", "dataset_dict.json")


@dataclass(frozen=True)
class HfOptions:
    """dataset=hf's own keys (conf/dataset/hf.yaml), read once. The fallbacks are that preset's values
    (tests/config/test_views.py keeps them equal)."""

    name: str
    config: str | None = None
    split: str | None = "train"  # null: load_dataset's whole DatasetDict; a saved one's "train"
    data_files: str | list | dict | None = None
    data_dir: str | None = None
    revision: str | None = None
    streaming: bool = False

    @classmethod
    def from_dataset(cls, dataset: dict) -> HfOptions:
        return cls(
            name=dataset["name"],
            config=dataset.get("config", cls.config),
            split=dataset.get("split", cls.split),
            data_files=dataset.get("data_files", cls.data_files),
            data_dir=dataset.get("data_dir", cls.data_dir),
            revision=dataset.get("revision", cls.revision),
            streaming=bool(dataset.get("streaming", cls.streaming)),
        )

    def load_kwargs(self) -> dict:
        """data_files, data_dir and revision for load_dataset, those that are set."""
        given = {"data_files": self.data_files, "data_dir": self.data_dir, "revision": self.revision}
        return {key: value for key, value in given.items() if value is not None}


class HFSource(Source):
    location_key = "dataset.name"

    def __init__(self, cfg, spec):
        super().__init__(cfg, spec)
        self.options = HfOptions.from_dataset(cfg)
        self._dataset = None

    def dataset(self):
        if self._dataset is None:
            self._dataset = self._load()
        return self._dataset

    def _load(self):
        import datasets

        options = self.options
        saved = saved_dataset(options.name)
        if saved is not None:
            return self._load_saved(saved)
        try:
            return datasets.load_dataset(
                options.name, options.config, split=options.split, streaming=options.streaming, **options.load_kwargs()
            )
        except Exception as error:  # datasets raises many types; the cause is in the message
            raise RunError(
                f"dataset.name={options.name!r}: could not load it ({type(error).__name__}: {error})",
                "check dataset.name/config/split/data_files; a hub dataset needs the network or a local cache",
            ) from error

    def _load_saved(self, path: Path):
        """A folder written by Dataset.save_to_disk (or DatasetDict.save_to_disk: dataset.split picks one)."""
        import datasets

        try:
            dataset = datasets.load_from_disk(str(path))
        except Exception as error:  # a damaged folder: datasets raises FileNotFoundError, ValueError, ArrowInvalid...
            raise RunError(
                f"dataset.name={self.options.name!r}: could not load the saved dataset "
                f"({type(error).__name__}: {error})",
                "save it again with Dataset.save_to_disk",
            ) from error
        if isinstance(dataset, datasets.DatasetDict):
            split = self.options.split or "train"
            if split not in dataset:
                raise ConfigError(
                    "dataset.split",
                    f"'{split}' is not a split of the saved dataset {self.options.name!r}",
                    f"its splits: {', '.join(dataset)}",
                )
            dataset = dataset[split]
        return dataset.to_iterable_dataset() if self.options.streaming else dataset

    def columns(self) -> list[str]:
        dataset = self.dataset()
        if dataset.column_names is not None:
            return list(dataset.column_names)
        first = next(iter(dataset), None)  # streaming datasets may not know their features up front
        return list(first) if first else []

    def size(self) -> int | None:
        dataset = self.dataset()
        return len(dataset) if hasattr(dataset, "__len__") else None

    def stream_identity(self) -> dict | None:
        """What run.json records of the rows (runner.sources.fingerprint): the row count and datasets' own
        fingerprint of a map-style dataset, read without decoding a row; None for a streaming one."""
        dataset = self.dataset()
        identity = getattr(dataset, "_fingerprint", None)
        if identity is None or not hasattr(dataset, "__len__"):
            return None
        return {"rows_of": f"dataset.name={self.options.name}", "size": len(dataset), "datasets_fingerprint": identity}

    def records(self):
        return _decoded(self.dataset(), lambda after: self.dataset().skip(after), lambda taken: taken)

    def shard_records(self, shard: dict):
        """Round-robin, reading only the shard's rows: a map-style Dataset selects them (memory-mapped
        Arrow, the others never touched); a streaming one still reads every row's bytes but drops the
        others in Arrow, before they become Python rows or a feature decodes them (split_dataset_by_node,
        strategy "examples"). Its "shards" strategy would hand out whole files instead, but a shard
        cannot know its rows' positions in the unsharded order without reading the files before its own."""
        if shard.get("unit", 1) != 1:  # batch units: read in order, the others' rows skipped unparsed
            return super().shard_records(shard)
        return self._strided_records(shard)

    def _strided_records(self, shard: dict):
        skip, limit = self.shared.skip, self.shared.limit
        index, count = shard["index"], shard["count"]
        total = limit if self.size() is None else rows_after(self.size(), skip, limit)
        rows = _decoded(
            self._from(index, count, total),
            lambda after: self._from(index + after * count, count, total),
            lambda taken: skip + index + taken * count,
        )
        for taken, record in rows:
            position = index + taken * count
            yield position, skip + position, record

    def _from(self, start: int, step: int, total: int | None):
        """The dataset from position `start` (after skip) on, every `step`-th row, up to position `total`."""
        dataset, skip = self.dataset(), self.shared.skip
        if hasattr(dataset, "__len__"):
            rows = range(skip + start, skip + total, step)
            return dataset.select(rows if rows else [])  # datasets refuses an empty range past the end
        from datasets.distributed import split_dataset_by_node

        dataset = dataset.skip(skip + start)
        if total is not None:
            dataset = dataset.take(max(0, total - start))
        if step == 1:
            return dataset
        # A format makes datasets iterate in Arrow: the step then takes its rows from each Arrow table,
        # and only those become Python rows (without one, every row is converted, then skipped).
        return split_dataset_by_node(dataset.with_format("python"), rank=0, world_size=step, strategy="examples")


def _decoded(dataset, after_error, row_of):
    """(position, record) of the dataset's rows in order; a row that datasets cannot decode (a corrupt
    image or audio under an Image or Audio feature) ends its iterator, so it becomes an error row and
    reading goes on with `after_error(position + 1)`, the dataset from the next row on. `row_of`: the
    row's place in the whole dataset, for the message."""
    position = 0
    rows = iter(dataset)
    while True:
        try:
            record = next(rows)
        except StopIteration:
            return
        except Exception as error:  # whatever the feature's decoder raised
            record = {BAD_RECORD: f"row {row_of(position)}: {type(error).__name__}: {error}"}
            rows = iter(after_error(position + 1))
        yield position, record
        position += 1


def saved_dataset(name: str) -> Path | None:
    """The folder when dataset.name is one written by save_to_disk, which load_dataset cannot read."""
    path = Path(name).expanduser()
    if path.is_dir() and any((path / marker).is_file() for marker in SAVED_MARKERS):
        return path
    return None


SOURCE = SourceType("hf", HFSource)
