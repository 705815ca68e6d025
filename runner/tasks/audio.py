"""Audio in: transcripts and labels."""
from __future__ import annotations

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


TASKS = [
    SpeechRecognition(
        "automatic-speech-recognition", {"audio": AUDIO}, {"text": TEXT, "chunks": DATA},
        ("facebook/wav2vec2-base-960h", "22aad52"), "whisper", aliases=("asr", "speech-to-text"), generative=True,
    ),
    Task(
        "audio-classification", {"audio": AUDIO}, {"label": TEXT, "score": DATA},
        ("superb/wav2vec2-base-superb-ks", "372e048"), "wav2vec2_cls",
    ),
]
