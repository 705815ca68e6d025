"""Media that pipeline outputs carry (segmentation masks, depth maps, generated audio), written as files
beside predictions.jsonl, so the JSON line holds a path instead of pixels or samples.

Files go to <run dir>/media/<step>/<row index>-<name>.<ext>, named by the row's position (unique and
filesystem-safe, unlike ids) so a rerun writes the same paths; predictions.jsonl records them relative
to the run dir, so a copied or moved run dir stays whole.
"""

from __future__ import annotations

from pathlib import Path

from runner.outputs.rundir import MEDIA
from runner.outputs.sinks import open_output


class MediaFiles:
    """Where one run writes its media."""

    def __init__(self, run_dir: Path):
        self.run_dir = Path(run_dir)

    def for_row(self, step: str, index: int) -> "RowMedia":
        return RowMedia(self, step, index)

    def path(self, step: str, index: int, name: str, extension: str) -> tuple[Path, str]:
        relative = f"{MEDIA}/{step}/{index:06d}-{name}.{extension}"
        target = self.run_dir / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        return target, relative


class RowMedia:
    """The media writer a task's `record_output` gets for one row of one step."""

    def __init__(self, files: MediaFiles, step: str, index: int):
        self.files, self.step, self.index = files, step, index

    def image(self, image, name: str) -> str:
        """Save a PIL image as PNG; return its path relative to the run dir."""
        target, relative = self.files.path(self.step, self.index, name, "png")
        with open_output(target, "wb", encoding=None) as f:
            image.save(f, format="PNG")
        return relative

    def audio(self, samples, sampling_rate: int, name: str) -> str:
        """Save audio samples (channels last, or a 1-D array) as a 32-bit float WAV; return its relative path."""
        import numpy as np
        import soundfile

        target, relative = self.files.path(self.step, self.index, name, "wav")
        data = np.asarray(samples, dtype=np.float32)
        if data.ndim == 2 and data.shape[0] < data.shape[1]:  # (channels, samples) as pipelines return it
            data = data.T
        with open_output(target, "wb", encoding=None) as f:
            soundfile.write(f, data.squeeze(), int(sampling_rate), subtype="FLOAT", format="WAV")
        return relative
