"""Task type of a request: feature, bugfix, refactor, test, docs, spec or other.

A small keyword classifier, on purpose: it must run on every trace with no model, be
explainable, and be stable across runs. Each type has keywords; a hit in the first line (the
title of an issue, the imperative of a chat request) counts double, a hit in the rest of the
first 2,000 characters counts once. The highest score wins; ties go to the more specific type
in ``PRIORITY`` ("add a test for X" is a test task, not a feature). No hit at all is "other".
"""

from __future__ import annotations

import re

TYPES = ("feature", "bugfix", "refactor", "test", "docs", "spec", "other")
PRIORITY = ("test", "docs", "refactor", "spec", "bugfix", "feature")

KEYWORDS: dict[str, tuple[str, ...]] = {
    "test": ("test", "tests", "unit test", "unittest", "pytest", "jest", "test case", "coverage", "testing"),
    "docs": ("readme", "docs", "documentation", "document", "docstring", "comment", "comments", "claude.md",
             "changelog", "tutorial", "explain", "what is this repo", "describe"),
    "refactor": ("refactor", "rename", "clean up", "cleanup", "reorganize", "restructure", "simplify", "extract",
                 "deduplicate", "split", "move", "modernize", "tidy"),
    "spec": ("spec", "specification", "design doc", "rfc", "proposal", "requirements", "plan", "architecture",
             "roadmap"),
    "bugfix": ("bug", "fix", "error", "fails", "failing", "failure", "broken", "crash", "exception", "traceback",
               "incorrect", "wrong", "doesn't work", "does not work", "doesnt", "no longer", "regression",
               "unexpected", "issue", "not respect", "cannot", "can't", "problem", "invalid syntax"),
    "feature": ("add", "implement", "create", "build", "make", "support", "new", "feature", "allow", "enable",
                "introduce", "generate", "write", "should", "toggle", "option"),
}
_PATTERNS = {kind: re.compile(r"\b(?:" + "|".join(re.escape(w) for w in words) + r")\b")
             for kind, words in KEYWORDS.items()}


def classify_task(text: str | None) -> str:
    if not text or not text.strip():
        return "other"
    lowered = text.lower()[:2000]
    title, _, body = lowered.strip().partition("\n")
    scores = {kind: 2 * len(p.findall(title)) + len(p.findall(body)) for kind, p in _PATTERNS.items()}
    best = max(scores.values())
    if best == 0:
        return "other"
    return next(kind for kind in PRIORITY if scores[kind] == best)
