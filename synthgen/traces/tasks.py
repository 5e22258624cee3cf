"""The task text: the user's request with the agent framework's prompt template removed.

Benchmark harnesses wrap the real request (an issue, a PR description) in long templates
("We're currently solving the following issue ... ISSUE: ... INSTRUCTIONS: ...",
``<pr_description>``, ``# Problem Statement``). Patterns and new tasks must be mined from the
request, not from the template every run shares.
"""

from __future__ import annotations

import re

_SECTIONS = (
    re.compile(r"<pr_description>\s*(.*?)\s*</pr_description>", re.S),
    re.compile(r"<issue_description>\s*(.*?)\s*</issue_description>", re.S),
    re.compile(r"<issue>\s*(.*?)\s*</issue>", re.S),
    re.compile(r"<task>\s*(.*?)\s*</task>", re.S),
    re.compile(r"^ISSUE:\s*\n(.*?)(?:\n\s*INSTRUCTIONS:|\Z)", re.S | re.M),
    re.compile(r"^#+ Problem Statement\s*\n(.*?)(?:\n\s*IMPORTANT:|\n#+ |\Z)", re.S | re.M),
)
_LEADS = (
    re.compile(r"^Consider the following (?:PR description|issue):\s*", re.I),
    re.compile(r"^Please solve this issue:\s*", re.I),
    re.compile(r"^Here is the issue:\s*", re.I),
)


def strip_template(text: str | None) -> str | None:
    """The request inside a harness template; the text itself (trimmed) when there is none."""
    if not text:
        return None
    body = text.strip()
    for pattern in _SECTIONS:
        match = pattern.search(body)
        if match and match.group(1).strip():
            body = match.group(1).strip()
            break
    else:
        head, sep, _ = body.partition("\nINSTRUCTIONS:")
        if sep and head.strip():
            body = head.strip()
    for lead in _LEADS:
        body = lead.sub("", body, count=1)
    return body.strip() or None
