"""Audio in: transcripts and labels."""
from __future__ import annotations

from typing import Any

from runner.tasks.base import AUDIO, DATA, TEXT, Task


class SpeechRecognition(Task):
    def lossy_settings(self, pipe, params: dict) -> list[str]:
        model_type = getattr(getattr(getattr(pipe, "model", None), "config", None), "model_type", None)
        if model_type != "whisper" or not params.get("chunk_length_s"):
            return []
        return [
            "chunk_length_s with Whisper splits the audio into independent chunks and loses text at the seams "
            "(measured on transformers 5.24: 514 of 921 characters kept on a 52 s clip). For long audio, drop "
            "chunk_length_s and set task.params.return_timestamps=true: Whisper then transcribes it long-form."
        ]


class TextToAudio(Task):
    def call(self, pipe, pipeline_task: str, inputs: list, batch_size: int, params: dict) -> list:
        # A forward-only model (VITS) pads a batch: every waveform comes back as long as the longest, with
        # a non-silent tail, and differs from an unbatched run. Such models get one text per call.
        one_at_a_time = not pipe.model.can_generate()
        return super().call(pipe, pipeline_task, inputs, 1 if one_at_a_time else batch_size, params)

    def record_output(self, output: Any, media) -> Any:
        """The waveform goes to a WAV file ((samples,) on transformers 5, (1, samples) on 4.x)."""
        rate = int(output["sampling_rate"])
        return {"audio": media.audio(output["audio"], rate, "audio"), "sampling_rate": rate}


TASKS = [
    SpeechRecognition(
        "automatic-speech-recognition", {"audio": AUDIO}, {"text": TEXT, "chunks": DATA},
        ("facebook/wav2vec2-base-960h", "22aad52"), "whisper", aliases=("asr", "speech-to-text"), generative=True,
    ),
    Task(
        "audio-classification", {"audio": AUDIO}, {"label": TEXT, "score": DATA},
        ("superb/wav2vec2-base-superb-ks", "372e048"), "wav2vec2_cls",
    ),
    TextToAudio(
        "text-to-audio", {"text": TEXT}, {"audio": DATA, "sampling_rate": DATA},
        ("suno/bark-small", "1dbd7a1"), "vits", aliases=("text-to-speech", "tts"),
    ),
]
