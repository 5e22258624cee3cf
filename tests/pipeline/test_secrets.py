"""API keys never reach a run folder, a log line, stdout or stderr."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from synthgen.pipeline.runlog import RunLogger, scrub
from synthgen.pipeline.runstate import fingerprint_of, new_state
from synthgen.pipeline.sink import RunFolder

ROOT = Path(__file__).resolve().parents[2]
KEYS = {
    "OPENAI_API_KEY": "sk-test-Zq8cVv2mN4pL0xYt7RkW",
    "NVIDIA_API_KEY": "nvapi-test-3hJd9QwErTy6UiOp1AsD",
}
# A key with no telltale prefix: only the environment-variable rule can catch it.
PLAIN_KEY = ("SYNTHGEN_API_KEY", "plainsecretvalue9431")


def _all_bytes(folder: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _assert_clean(blobs: dict[str, bytes], secrets: list[str]) -> None:
    for name, data in blobs.items():
        for secret in secrets:
            assert secret.encode() not in data, f"{secret[:8]}... leaked into {name}"


def test_run_logger_redacts_every_string(tmp_path, monkeypatch):
    for var, value in {**KEYS, PLAIN_KEY[0]: PLAIN_KEY[1]}.items():
        monkeypatch.setenv(var, value)
    log = RunLogger(tmp_path / "log.jsonl")
    log.event(
        "engine_call",
        error=f"401 Unauthorized for key {KEYS['OPENAI_API_KEY']}",
        request={"headers": {"Authorization": f"Bearer {KEYS['NVIDIA_API_KEY']}"}, "n": 2},
        extra=[PLAIN_KEY[1], 3.5, None, True],
        **{f"key_{PLAIN_KEY[1]}": "as a field name"},
    )
    log.close()
    line = json.loads((tmp_path / "log.jsonl").read_text())
    assert line["event"] == "engine_call" and line["ts"].endswith("+00:00")
    assert line["request"]["n"] == 2 and line["extra"][1:] == [3.5, None, True]
    _assert_clean(_all_bytes(tmp_path), [*KEYS.values(), PLAIN_KEY[1]])


def test_scrub_turns_odd_values_into_redacted_text(monkeypatch):
    monkeypatch.setenv(*PLAIN_KEY)
    assert scrub({"path": Path(f"/tmp/{PLAIN_KEY[1]}")}) == {"path": "/tmp/***"}
    assert scrub(("a", 1)) == ["a", 1]


def test_run_state_never_holds_a_key(tmp_path, monkeypatch):
    monkeypatch.setenv(*PLAIN_KEY)
    fp = fingerprint_of({"model": "api", "base_url": f"http://host/?key={PLAIN_KEY[1]}"})
    with RunFolder(tmp_path, resume=False, fingerprint=fp) as folder:
        folder.save_state(new_state(fp, resume_command="synthgen api --resume"))
    _assert_clean(_all_bytes(tmp_path), [PLAIN_KEY[1]])
