"""An OpenAI-compatible upstream that ignores the grammar field and answers nl2dot prompts
with seeded broken DOT: the repair tests' and ``bench/repair.py``'s server.

It runs inside ``FaultProxy`` (``FaultProxy(reply=BrokenDot(...), usage=...)``), a real
HTTP server on 127.0.0.1. Every original prompt gets a fate from a hash of its messages:
its answer is valid at once (0), valid after one or two follow-up turns (1, 2), or never
(``None``). A broken answer is a clean nl2dot answer (the recipe's fake answers: distinct,
passing the quality checks) with one syntax error put in a known DOT line: a stray ``;``
(the parser stops on that line) or a missing ``]`` (it stops on the next one). A follow-up
counts only when its user turn carries the validator's message for that line ("syntax
error in line L"), so a repair that does not send the message back repairs nothing. The
grammar probe (``Name a colour.``) is answered with plain text, as a server that ignores
the field would. Usage is reported as characters / 4, so the ledger has real numbers to sum.
"""

from __future__ import annotations

import hashlib
import json
import random
import threading
from dataclasses import dataclass, field
from typing import Any

from synthgen.records import GenerationRequest

Fate = int | None  # follow-ups needed before a valid answer; None: never valid


def usage(body: dict[str, Any], text: str) -> tuple[int, int]:
    prompt = sum(len(m.get("content") or "") for m in body.get("messages", []))
    return prompt // 4 + 1, len(text) // 4 + 1


@dataclass
class BrokenDot:
    shares: dict[Fate, float]  # e.g. {0: 0.4, 1: 0.3, 2: 0.2, None: 0.1}
    seed: int = 0
    fates: dict[str, Fate] = field(default_factory=dict)  # original prompt key -> its fate
    fate_of_request: dict[str, Fate] = field(default_factory=dict)  # the clean answer's REQUEST text -> fate
    chat_calls: int = 0  # chat requests other than the grammar probe
    tokens: list[int] = field(default_factory=lambda: [0, 0])  # prompt, completion of those
    _sent: dict[str, tuple[str, int, int]] = field(default_factory=dict)  # broken text -> (key, round, error line)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, body: dict[str, Any]) -> str:
        messages = body.get("messages") or []
        if messages == [{"role": "user", "content": "Name a colour."}]:
            return "Blue."
        with self._lock:
            text = self._answer(messages)
            prompt, completion = usage(body, text)
            self.chat_calls += 1
            self.tokens[0] += prompt
            self.tokens[1] += completion
            return text

    def _answer(self, messages: list[dict[str, Any]]) -> str:
        start = next((i for i, m in enumerate(messages) if m.get("role") == "assistant" and m.get("content") in self._sent),
                     len(messages))
        original, followups = messages[:start], messages[start:]
        key = hashlib.blake2b(json.dumps(original, sort_keys=True).encode(), digest_size=8).hexdigest()
        fate = self.fates.setdefault(key, self._fate(key))
        repaired = self._proper_followups(followups)
        clean = self._clean(key, original)
        if fate is not None and repaired >= fate:
            return clean
        return self._broken(key, clean, repaired)

    def _fate(self, key: str) -> Fate:
        roll = random.Random(f"fate:{self.seed}:{key}").random()
        for fate, share in self.shares.items():
            if roll < share:
                return fate
            roll -= share
        return 0

    def _proper_followups(self, followups: list[dict[str, Any]]) -> int:
        """How many (broken answer, user turn) pairs carry that answer's error line."""
        n = 0
        for answer, turn in zip(followups[::2], followups[1::2]):
            _, _, line = self._sent.get(answer.get("content") or "", ("", 0, -1))
            content = turn.get("content") or ""
            if turn.get("role") == "user" and f"syntax error in line {line} " in content:
                n += 1
        return n

    def _clean(self, key: str, original: list[dict[str, Any]]) -> str:
        from synthgen.recipes.nl2dot.fake import fake_answer

        text = fake_answer(GenerationRequest(key, original), random.Random(f"clean:{self.seed}:{key}"), {})
        request = text.split("\n", 1)[0].removeprefix("REQUEST: ").strip()
        self.fate_of_request[request] = self.fates[key]
        return text

    def _broken(self, key: str, clean: str, round_: int) -> str:
        head, dot = clean.split("\nDOT:\n", 1)
        lines = dot.split("\n")
        rng = random.Random(f"broken:{self.seed}:{key}:{round_}")
        statements = [i for i, line in enumerate(lines) if line.endswith("];") and i + 1 < len(lines) - 1]
        i = rng.choice(statements)
        if rng.random() < 0.5:
            lines[i] += ";"  # a stray ';': "syntax error in line i+1 near ';'"
            error_line = i + 1
        else:
            lines[i] = lines[i][:-2] + ";"  # a missing ']': the parser stops on the next line
            error_line = i + 2
        text = f"{head}\nDOT:\n" + "\n".join(lines)
        self._sent[text] = (key, round_, error_line)
        return text
