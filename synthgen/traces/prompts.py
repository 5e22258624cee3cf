"""Prompt keywords and abstracted prompt templates.

A template is the first line of a request with its specifics replaced by placeholders, so
"Fix the crash in src/app.py line 42" and "Fix the crash in lib/db.go line 7" count as one
shape: ``Fix the crash in <PATH> line <NUM>``. The recipe uses these shapes to write new tasks
that read like real ones without copying any.
"""

from __future__ import annotations

import re

_RULES = (
    (re.compile(r"https?://\S+"), "<URL>"),
    (re.compile(r"`[^`\n]+`"), "<CODE>"),
    (re.compile(r"\"[^\"\n]{1,80}\"|'[^'\n]{1,80}'"), "<STR>"),
    (re.compile(r"(?<![\w<])(?:[\w.-]+/)+[\w.-]+|\b[\w-]+\.(?:py|js|ts|tsx|jsx|go|rs|java|rb|md|json|ya?ml|toml|"
                r"html|css|sh|c|h|cpp|cs|kt|swift|php|txt|ipynb)\b"), "<PATH>"),
    (re.compile(r"\b[A-Za-z_][\w]*(?:\.[A-Za-z_]\w*)+\(?\)?|\b[A-Za-z_]\w*\(\)|\b[a-z]+(?:_[a-z0-9]+)+\b|"
                r"\b[A-Z][a-z0-9]+(?:[A-Z][a-z0-9]+)+\b|\b__\w+__\b"), "<IDENT>"),
    (re.compile(r"\b\d+(?:\.\d+)*\b"), "<NUM>"),
)
STOPWORDS = frozenset(
    "the a an and or to of in on for with is are be this that it as at by from we you i me my our can could would "
    "should will please when what which how there here not but if then so do does did have has had was were its "
    "into out up about also just like some any all more most other such only than too very use using used get "
    "make need want let lets don't doesn't it's i'm your they them their these those been being one two new "
    "file files code following way see found seems seem".split()
)
_WORD = re.compile(r"[a-z][a-z0-9_+#.-]{2,}")


def template(text: str | None, max_chars: int = 160) -> str | None:
    """The first non-empty line with paths, identifiers, numbers, strings replaced."""
    if not text:
        return None
    line = next((ln.strip() for ln in text.strip().splitlines() if ln.strip()), "")
    for pattern, placeholder in _RULES:
        line = pattern.sub(placeholder, line)
    line = re.sub(r"\s+", " ", line).strip()
    return line[:max_chars] or None


def keywords(text: str | None, max_chars: int = 2000) -> list[str]:
    """Content words of a request, lower-cased, stopwords and placeholders dropped, unique."""
    if not text:
        return []
    words = (w.strip(".-") for w in _WORD.findall(text[:max_chars].lower()))
    return list(dict.fromkeys(w for w in words if len(w) > 2 and w not in STOPWORDS and not w.isdigit()))
