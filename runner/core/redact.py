"""Secrets never reach the run dir: values of keys named like a secret, and strings that look like
Hugging Face tokens, are replaced by REDACTED wherever the runner writes a config or a log line
(run.json, .hydra/*.yaml, multirun.yaml, run.log, child.log). The config in memory keeps the real
value, so the model loading code still receives it.

A key is a secret when the last word of its name (words split at `_`, `-`, `.` and camelCase) is one
of SECRET_WORDS, or the name holds one of SECRET_PAIRS (api_key, access_key ...); its value is redacted
whatever its type (a token given as a number, a list of keys), but for null and booleans
(`use_auth_token: true` says nothing secret). Tokenizer special tokens (pad_token,
eos_token ...) are names, not secrets, and are kept.
"""

from __future__ import annotations

import logging
import re
from typing import Any

REDACTED = "***"

SECRET_WORDS = {"token", "password", "passwd", "secret", "apikey", "auth", "credential", "credentials"}
SECRET_PAIRS = ("api_key", "access_key", "secret_key", "private_key", "client_secret")
# `<name>_token` keys whose value is a vocabulary entry such as "</s>" (tokenizer and generation kwargs).
SPECIAL_TOKENS = {
    "pad",
    "eos",
    "bos",
    "unk",
    "sep",
    "cls",
    "mask",
    "stop",
    "start",
    "end",
    "decoder_start",
    "additional_special",
    "image",
    "audio",
    "video",
    "boi",
    "eoi",
}
# Hugging Face user access tokens: hf_ followed by 30 or more letters and digits.
HF_TOKEN = re.compile(r"\bhf_[A-Za-z0-9]{30,}")
# `key=value` inside a string (command lines, Hydra's override lists and override_dirname).
KEY_VALUE = re.compile(r"(?P<key>[A-Za-z_][\w.+~/-]*)=(?P<value>\"[^\"]*\"|'[^']*'|[^\s,'\"\]\)]+)")

# Values of secret keys that hold nothing secret: a placeholder in a hint, null, a bool, an interpolation
# such as ${oc.env:HF_TOKEN} (the recommended way to pass one), or a value already redacted.
PLACEHOLDER = re.compile(r"^(<[^>]*>|null|none|true|false|\$\{[^}]*\}|\*\*\*)?$", re.IGNORECASE)


def _words(name: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    return [w for w in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if w]


def is_secret_key(key: str) -> bool:
    """Whether a (possibly dotted) key names a secret, judged by its last part."""
    words = _words(str(key).rsplit(".", 1)[-1].lstrip("+~"))
    if not words:
        return False
    joined = "_".join(words)
    if any(pair in joined for pair in SECRET_PAIRS):
        return True
    if words[-1] not in SECRET_WORDS:
        return False
    return not (words[-1] == "token" and "_".join(words[:-1]) in SPECIAL_TOKENS)


def redact_text(text: str) -> str:
    """The text with HF-token-like values and the values of secret `key=value` pairs replaced."""

    def pair(match: re.Match) -> str:
        secret = is_secret_key(match["key"]) and not PLACEHOLDER.match(match["value"].strip("'\""))
        return f"{match['key']}={REDACTED}" if secret else match[0]

    return HF_TOKEN.sub(REDACTED, KEY_VALUE.sub(pair, text))


def redact(value: Any, key: str = "") -> Any:
    """A copy of a plain value (dicts, lists, strings) with every secret replaced by REDACTED."""
    if key and is_secret_key(key) and _holds_secret(value):
        return REDACTED
    if isinstance(value, dict):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(redact(v) for v in value)
    if isinstance(value, str):
        return redact_text(value)
    return value


def _holds_secret(value: Any) -> bool:
    """Whether the value of a secret key is worth hiding: any value (a number, a list, a mapping) but
    null, a bool, an empty container and the placeholders of PLACEHOLDER."""
    if value is None or isinstance(value, bool):
        return False
    if isinstance(value, str):
        return not PLACEHOLDER.match(value)
    if isinstance(value, (dict, list, tuple)):
        return bool(value)
    return True


def redacted_keys(value: Any, prefix: str = "") -> list[str]:
    """Dotted keys whose value is REDACTED (a config read back from a run dir)."""
    if isinstance(value, dict):
        return [k for name, v in value.items() for k in redacted_keys(v, f"{prefix}{name}.")]
    return [prefix[:-1]] if value == REDACTED else []


class RedactFilter(logging.Filter):
    """On a handler: the record is formatted, then redacted (message and traceback) before it is written.
    conf/hydra/job_logging/runner.yaml puts it on the console and run.log handlers."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact_text(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        return True
