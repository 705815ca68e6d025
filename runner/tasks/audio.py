"""Audio in: transcripts and labels."""

from __future__ import annotations

from typing import Any

from runner.tasks.base import AUDIO, DATA, TEXT, Task


class SpeechRecognition(Task):
    def call(self, pipe, pipeline_task: str, inputs: list, batch_size: int, params: dict) -> list:
        """Whisper on audio longer than its 30 s window transcribes it long-form, with nothing to set.

        transformers only decodes such audio sequentially (window by window, each one continuing from
        the previous one's last timestamp) when timestamps are asked for; without them it raises "more
        than 3000 mel input features". So rows longer than the window run with return_timestamps=True
        and give back their text alone, as a short row does; shorter rows run exactly as asked, since
        predicting timestamps can change a short transcript. chunk_length_s (chunked, lossy) or
        return_timestamps set by the user are left to transformers.
        """
        long_rows = self._long_form_rows(pipe, inputs, params)
        if not long_rows:
            return super().call(pipe, pipeline_task, inputs, batch_size, params)
        outputs: list = [None] * len(inputs)
        long_set = set(long_rows)
        short_rows = [i for i in range(len(inputs)) if i not in long_set]
        if short_rows:
            short = super().call(pipe, pipeline_task, [inputs[i] for i in short_rows], batch_size, params)
            for i, output in zip(short_rows, short):
                outputs[i] = output
        long = super().call(
            pipe, pipeline_task, [inputs[i] for i in long_rows], batch_size, {**params, "return_timestamps": True}
        )
        for i, output in zip(long_rows, long):
            outputs[i] = {key: value for key, value in output.items() if key != "chunks"}
        return outputs

    @staticmethod
    def _long_form_rows(pipe, inputs: list, params: dict) -> list[int]:
        """Positions of the inputs longer than Whisper's window, when long-form is this call's to choose."""
        if (
            getattr(pipe, "type", None) != "seq2seq_whisper"
            or params.get("chunk_length_s")
            or params.get("return_timestamps")
        ):
            return []
        window = getattr(pipe.feature_extractor, "n_samples", None)
        if not window:
            return []
        return [i for i, value in enumerate(inputs) if _sample_count(value) > window]

    def lossy_settings(self, pipe, params: dict) -> list[str]:
        model_type = getattr(getattr(getattr(pipe, "model", None), "config", None), "model_type", None)
        if model_type != "whisper" or not params.get("chunk_length_s"):
            return []
        return [
            "chunk_length_s with Whisper transcribes independent 30 s chunks and joins them at the seams, where "
            "text can be lost (measured with the real Whisper tiny.en on transformers 5.24, benchmarks/asr.py: a 60 s "
            "continuous reading kept about two thirds of its words, WER 0.40 against 0.10 long-form). Without "
            "chunk_length_s the runner transcribes audio over 30 s long-form, window after window, losing nothing."
        ]


def _sample_count(value: Any) -> int:
    """Samples at the pipeline's rate (the runner resamples audio to the feature extractor's rate first)."""
    if isinstance(value, dict):
        value = value.get("raw", value.get("array"))
    shape = getattr(value, "shape", None)
    return int(shape[-1]) if shape else len(value) if hasattr(value, "__len__") else 0


class TextToAudio(Task):
    def call(self, pipe, pipeline_task: str, inputs: list, batch_size: int, params: dict) -> list:
        # A forward-only model (VITS) pads a batch: every waveform comes back as long as the longest, with
        # a non-silent tail, and differs from an unbatched run. Such models get one text per call.
        one_at_a_time = not pipe.model.can_generate()
        return super().call(pipe, pipeline_task, inputs, 1 if one_at_a_time else batch_size, params)

    def refused_settings(self, pipe, params: dict) -> list[tuple[str, str, str]]:
        if not params.get("generate_kwargs") or pipe.model.can_generate():
            return []
        kind = getattr(pipe.model.config, "model_type", type(pipe.model).__name__)
        return [
            (
                "task.params.generate_kwargs",
                f"this {kind} model makes audio in one forward pass and takes no generate() arguments",
                "give its arguments as task.params.forward_params, or use a generating model (Bark, MusicGen)",
            )
        ]

    def record_output(self, output: Any, media) -> Any:
        """The waveform goes to a WAV file ((samples,) on transformers 5, (1, samples) on 4.x)."""
        rate = int(output["sampling_rate"])
        return {"audio": media.audio(output["audio"], rate, "audio"), "sampling_rate": rate}


TASKS = [
    SpeechRecognition(
        "automatic-speech-recognition",
        {"audio": AUDIO},
        {"text": TEXT, "chunks": DATA},
        ("facebook/wav2vec2-base-960h", "22aad52"),
        "whisper",
        aliases=("asr", "speech-to-text"),
        generative=True,
    ),
    Task(
        "audio-classification",
        {"audio": AUDIO},
        {"label": TEXT, "score": DATA},
        ("superb/wav2vec2-base-superb-ks", "372e048"),
        "wav2vec2_cls",
    ),
    TextToAudio(
        "text-to-audio",
        {"text": TEXT},
        {"audio": DATA, "sampling_rate": DATA},
        ("suno/bark-small", "1dbd7a1"),
        "vits",
        aliases=("text-to-speech", "tts"),
    ),
]
