"""API keys never reach a run folder, a log line, stdout or stderr."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from synthgen.runfolder.folder import RunFolder
from synthgen.runfolder.log import RunLogger, scrub
from synthgen.runfolder.state import fingerprint_of, new_state

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


def test_engine_call_event_counts_and_redacts(tmp_path, monkeypatch):
    from synthgen.backends.base import Completion
    from synthgen.pipeline.budget import Ledger

    monkeypatch.setenv("OPENAI_API_KEY", KEYS["OPENAI_API_KEY"])
    comps = [
        Completion("a", "digraph {}", "stop", 10, 5),
        Completion("b", "", "error", 12, 0, error=f"401 bad key {KEYS['OPENAI_API_KEY']}"),
    ]
    ledger = Ledger(gpu_seconds=1.23456, usd=0.5)
    with RunLogger(tmp_path / "log.jsonl") as log:
        log.engine_call("gpt-test", comps, wall_s=0.5, ledger=ledger)
    line = json.loads((tmp_path / "log.jsonl").read_text())
    assert line["event"] == "engine_call" and line["finish_reasons"] == {"stop": 1, "error": 1}
    assert (line["prompt_tokens"], line["completion_tokens"], line["gpu_seconds_total"]) == (22, 5, 1.2346)
    assert line["errors"] == ["401 bad key ***"]


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


# -- through the CLI --------------------------------------------------------------------------


def _dead_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def secret_env(tmp_path_factory) -> dict[str, str]:
    models = tmp_path_factory.mktemp("models")
    (models / "fake.yaml").write_text("alias: fake\nbackend: fake\n")
    return dict(os.environ, PYTHONPATH=str(ROOT), SYNTHGEN_MODELS_DIR=str(models), **KEYS, **dict([PLAIN_KEY]))


def _synthgen(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "synthgen", *args]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, cwd=ROOT)


@pytest.mark.slow
@pytest.mark.graphviz
def test_fake_run_folder_and_output_hold_no_key(tmp_path, secret_env, require_graphviz):
    out = tmp_path / "run"
    args = ["generate", "--model", "fake", "--count", "12", "--batch-size", "4", "--output", str(out)]
    # garbage and errors too, so rejected.jsonl and failed_prompts.jsonl are written as well
    env = dict(secret_env, SYNTHGEN_FAKE_GARBAGE_RATE="0.2", SYNTHGEN_FAKE_INVALID_RATE="0.2")
    proc = _synthgen(env, *args)
    assert proc.returncode == 0, proc.stderr[-2000:]
    again = _synthgen(env, *args, "--resume", "--verbose")  # a resume of a finished run writes state again
    assert again.returncode == 0, again.stderr[-2000:]
    files = _all_bytes(out)
    assert {"data.jsonl", "run.json"} <= {Path(p).name for p in files}
    secrets = [*KEYS.values(), PLAIN_KEY[1]]
    _assert_clean(files, secrets)
    _assert_clean({"stdout": (proc.stdout + again.stdout).encode(), "stderr": (proc.stderr + again.stderr).encode()}, secrets)


@pytest.mark.slow
def test_api_run_against_a_dead_endpoint_leaks_no_key(tmp_path, secret_env):
    out = tmp_path / "run"
    url = f"http://127.0.0.1:{_dead_port()}/v1"
    proc = _synthgen(
        secret_env, "api", "--provider", "openai", "--model", "gpt-test", "--base-url", url,
        "--count", "4", "--output", str(out),
    )
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr and proc.stderr.strip(), proc.stderr[-2000:]
    secrets = [*KEYS.values(), PLAIN_KEY[1]]
    _assert_clean(_all_bytes(out) if out.exists() else {}, secrets)
    _assert_clean({"stdout": proc.stdout.encode(), "stderr": proc.stderr.encode()}, secrets)


ECHO_KEY = "echoedsecret-7Hq2Lp9Xw"  # no telltale prefix: only the key's own value can catch it


@pytest.mark.slow
@pytest.mark.graphviz
@pytest.mark.parametrize("repair_rounds", ["0", "2"])
def test_an_endpoint_that_echoes_the_key_and_credentials_in_the_url_leak_nothing(tmp_path, require_graphviz, repair_rounds):
    """A real server on 127.0.0.1 that puts the API key it was sent (and a URL with a user and
    password) into every reply: the key was stored in data.jsonl, rejected.jsonl and
    failed_prompts.jsonl."""
    import base64
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    seen: list[str] = []

    class Echo(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def _reply(self, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            self._reply({"object": "list", "data": [{"id": "m", "object": "model"}]})

        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            auth = self.headers.get("Authorization", "")
            key = auth.removeprefix("Bearer ").strip()
            seen.append(key)
            text = (f"REQUEST: Draw the login flow that key {key} opens, from start to done, for user "
                    f"{base64.b64encode(b'x').decode()} at http://admin:hunter2pass@db.internal/.\nDOT:\n"
                    f"digraph login {{\n  n1 [label=\"Start {key}\"]\n  n2 [label=\"Done\"]\n  n1 -> n2 [label=\"go\"]\n}}")
            if len(seen) % 3 == 0:
                text = f"I cannot do that with {key}"  # garbage: a failed line carrying the key
            self._reply({"choices": [{"message": {"content": text}, "finish_reason": "stop"}],
                         "usage": {"prompt_tokens": 10, "completion_tokens": 20}})

    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        out = tmp_path / "run"
        url = f"http://127.0.0.1:{server.server_address[1]}/v1"
        env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "SYNTHGEN_API_KEY")}
        env.update(PYTHONPATH=str(ROOT), OPENAI_API_KEY=ECHO_KEY)
        # --repair-rounds 0: the garbage answers stay failed lines; 2: they go back to the server with
        # the validator's message (which quotes them) and come back with the key again
        proc = _synthgen(env, "api", "--provider", "openai", "--model", "m", "--base-url", url, "--count", "4",
                         "--batch-size", "6", "--max-candidates", "12", "--repair-rounds", repair_rounds, "--output", str(out))
    finally:
        server.shutdown()
        server.server_close()
    assert ECHO_KEY in seen  # the server got the key and echoed it
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    files = _all_bytes(out)
    assert any(name.endswith("data.jsonl") or name.endswith("rejected.jsonl") for name in files)
    if repair_rounds == "0":
        assert any(name.endswith("failed_prompts.jsonl") for name in files)
    else:
        assert b'"repair"' in b"".join(files.values())  # the garbage answers went through repair
    for name, data in files.items():
        if name.endswith(".jsonl"):
            [json.loads(line) for line in data.splitlines() if line.strip()]  # still valid JSON after redaction
    _assert_clean(files, [ECHO_KEY, "hunter2pass"])
    _assert_clean({"stdout": proc.stdout.encode(), "stderr": proc.stderr.encode()}, [ECHO_KEY, "hunter2pass"])
    assert b"***" in b"".join(files.values())


@pytest.mark.slow
def test_credentials_in_the_base_url_reach_no_output(tmp_path, secret_env):
    """http://user:pass@host/v1 reached stderr, run.json and log.jsonl."""
    out = tmp_path / "run"
    url = f"http://svc-user:hunter2pass@127.0.0.1:{_dead_port()}/v1"
    proc = _synthgen(secret_env, "api", "--provider", "vllm-server", "--model", "m", "--base-url", url, "--count", "2",
                     "--request-attempts", "1", "--output", str(out))
    assert proc.returncode == 3 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert "***@127.0.0.1" in proc.stderr  # the URL is still shown, without its credentials
    _assert_clean(_all_bytes(out) if out.exists() else {}, ["hunter2pass", "svc-user"])
    _assert_clean({"stdout": proc.stdout.encode(), "stderr": proc.stderr.encode()}, ["hunter2pass", "svc-user"])
