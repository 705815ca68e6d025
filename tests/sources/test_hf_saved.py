"""dataset=hf reads a folder written by save_to_disk (load_dataset cannot): a Dataset, or one split of
a DatasetDict chosen by dataset.split."""

from __future__ import annotations

import pytest

from runner.core.errors import ConfigError
from runner.sources import open_source, resolve_mapping
from runner.tasks import TASKS

HF = {
    "type": "hf",
    "config": None,
    "split": "train",
    "data_files": None,
    "data_dir": None,
    "revision": None,
    "streaming": False,
    "column": None,
    "fields": {"text": None},
    "id_column": None,
    "limit": None,
}


def texts(name, **cfg):
    source = open_source({**HF, "name": str(name), **cfg}, TASKS["text-classification"])
    return [row.fields["text"] for row in source.rows(resolve_mapping(source))], source.size()


def test_a_saved_dataset_folder_loads_with_load_from_disk(tmp_path):
    import datasets

    datasets.Dataset.from_dict({"text": ["a", "b", "c"], "label": [0, 1, 0]}).save_to_disk(str(tmp_path / "saved"))
    assert texts(tmp_path / "saved") == (["a", "b", "c"], 3)
    assert texts(tmp_path / "saved", streaming=True) == (["a", "b", "c"], None)


def test_a_saved_dataset_dict_gives_the_split_named(tmp_path):
    import datasets

    datasets.DatasetDict(
        {
            "train": datasets.Dataset.from_dict({"text": ["t1", "t2"]}),
            "test": datasets.Dataset.from_dict({"text": ["only test"]}),
        }
    ).save_to_disk(str(tmp_path / "saved"))
    assert texts(tmp_path / "saved", split="test") == (["only test"], 1)
    with pytest.raises(ConfigError) as caught:
        texts(tmp_path / "saved", split="validation")
    assert caught.value.key == "dataset.split" and "train, test" in caught.value.hint


def test_a_row_datasets_cannot_decode_is_an_error_row_and_reading_goes_on(tmp_path):
    import io

    import datasets
    from PIL import Image

    png = io.BytesIO()
    Image.new("RGB", (4, 4)).save(png, format="PNG")
    images = [
        {"bytes": png.getvalue(), "path": None},
        {"bytes": b"broken", "path": None},
        {"bytes": png.getvalue(), "path": None},
    ]
    datasets.Dataset.from_dict({"image": images}, features=datasets.Features({"image": datasets.Image()})).save_to_disk(
        str(tmp_path / "saved")
    )
    for streaming in (False, True):
        source = open_source(
            {**HF, "name": str(tmp_path / "saved"), "streaming": streaming, "fields": {"image": None}},
            TASKS["image-classification"],
        )
        rows = list(source.rows(resolve_mapping(source)))
        assert [r.index for r in rows] == [0, 1, 2]
        assert [r.error is None for r in rows] == [True, False, True], streaming
        assert rows[1].error.startswith("row 1: UnidentifiedImageError")


def test_a_shard_reading_only_its_rows_turns_undecodable_ones_into_error_rows_and_goes_on(tmp_path):
    """Shard 1 of 3 after skip=1 owns positions 1, 4, 7 (file rows 2, 5, 8); rows 2 and 5 are broken."""
    import io

    import datasets
    from PIL import Image

    png = io.BytesIO()
    Image.new("RGB", (4, 4)).save(png, format="PNG")
    images = [{"bytes": b"broken" if i in (2, 5) else png.getvalue(), "path": None} for i in range(9)]
    datasets.Dataset.from_dict({"image": images}, features=datasets.Features({"image": datasets.Image()})).save_to_disk(
        str(tmp_path / "saved")
    )
    for streaming in (False, True):
        source = open_source(
            {**HF, "name": str(tmp_path / "saved"), "streaming": streaming, "fields": {"image": None}, "skip": 1},
            TASKS["image-classification"],
        )
        rows = list(source.rows(resolve_mapping(source), {"index": 1, "count": 3}))
        assert [(r.index, r.id) for r in rows] == [(1, 2), (4, 5), (7, 8)], streaming
        assert [r.error and r.error.split(":")[0] for r in rows] == ["row 2", "row 5", None], streaming
