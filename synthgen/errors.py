"""One error tree. The CLI turns any SynthgenError into one line and a non-zero exit.

Each error carries an optional ``hint`` (what the user can do about it) and an
``exit_code``. Messages must never contain secrets: API keys are redacted by
``redact`` before they can reach a message.
"""

from __future__ import annotations

import os
import re


class SynthgenError(Exception):
    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(redact(message))
        self.hint = redact(hint) if hint else None

    def one_line(self) -> str:
        text = " ".join(str(self).split())
        if self.hint:
            text += f" (hint: {' '.join(self.hint.split())})"
        return text


class ConfigError(SynthgenError):
    """A user's YAML, flag or environment variable is wrong."""

    exit_code = 2


class UnknownNameError(ConfigError):
    """A name (model alias, domain, backend, provider) that no registry knows."""

    def __init__(self, kind: str, name: str, known: list[str] | tuple[str, ...]) -> None:
        listed = ", ".join(sorted(known)) or "none"
        shown = name if len(name) <= 80 else name[:77] + "..."
        super().__init__(f"unknown {kind} {shown!r}", hint=f"known {plural(kind)}: {listed}")


def plural(noun: str) -> str:
    """English plural of a kind's name: complexity -> complexities, model -> models."""
    if noun.endswith("y") and noun[-2:-1] not in ("a", "e", "i", "o", "u"):
        return noun[:-1] + "ies"
    return noun + ("es" if noun.endswith(("s", "x", "ch", "sh")) else "s")


class TraceError(ConfigError):
    """A file is not an agent trace, or a trace cannot be read; the message is the one-line reason."""


class BackendError(SynthgenError):
    """A generation engine failed to load or to answer."""

    exit_code = 3


class AuthError(BackendError):
    """The endpoint refused the API key."""


class OutputError(SynthgenError):
    """The run folder cannot be written, or another run holds its lock."""

    exit_code = 4


class ResumeError(SynthgenError):
    """--resume was asked for but the run folder does not match this config."""

    exit_code = 5


class BudgetExceeded(SynthgenError):
    """A compute or money budget ran out; the run stopped with everything flushed."""

    exit_code = 6


# Values of these environment variables never appear in a message, log or file.
SECRET_ENV_VARS = (
    "NVIDIA_API_KEY",
    "NGC_API_KEY",
    "OPENAI_API_KEY",
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "VLLM_API_KEY",
    "SYNTHGEN_API_KEY",
    "HF_TOKEN",
)
# Key shapes, a bearer token, and a URL's user:password@ part. No pattern crosses a quote or a
# backslash, so redacting a serialized JSON line keeps it valid JSON.
_KEY_PATTERNS = re.compile(r"(sk-[A-Za-z0-9_\-]{8,}|nvapi-[A-Za-z0-9_\-]{8,}|AIza[0-9A-Za-z_\-]{20,}|Bearer\s+[^\s\"\\]+)")
_URL_CREDENTIALS = re.compile(r"(?<=://)[^\s/@\"\\]+@")
_SECRETS: set[str] = set()  # values registered at run time (a model YAML's own api_key_env)


def register_secret(value: str | None) -> None:
    """A value ``redact`` removes from now on (a key read from a variable it does not know)."""
    if value and len(value) >= 6:
        _SECRETS.add(value)


def redact(text: str) -> str:
    """Remove anything that looks like a key, a URL's credentials, and the values of known
    key variables and registered secrets."""
    for var in SECRET_ENV_VARS:
        value = os.environ.get(var)
        if value and len(value) >= 6:
            text = text.replace(value, "***")
    for value in _SECRETS:
        text = text.replace(value, "***")
    return _URL_CREDENTIALS.sub("***@", _KEY_PATTERNS.sub("***", text))
