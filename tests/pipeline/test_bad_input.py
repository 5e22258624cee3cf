"""Bad input through the real CLI: one-line errors with the right exit code, or counted
failures and a clean stop; never a traceback, never a lost accepted record."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from synthgen.cli import main


@pytest.fixture()
def fake_env(tmp_path, monkeypatch) -> Path:
    models = tmp_path / "models"
    models.mkdir()
    (models / "fake.yaml").write_text("alias: fake\nbackend: fake\ndescription: test stand-in\n")
    monkeypatch.setenv("SYNTHGEN_MODELS_DIR", str(models))
    for knob in ("GARBAGE_RATE", "DELAY_S", "ERROR_RATE"):
        monkeypatch.delenv(f"SYNTHGEN_FAKE_{knob}", raising=False)
    return tmp_path


def cli(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main([*args])
        raise SystemExit(0)
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return int(exc.value.code or 0), out, err


def error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.startswith("synthgen: error:")]
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize(
    "args,code,words",
    [
        (["--domains", "robotics,space_travel"], 2, ["unknown domain 'space_travel'", "robotics"]),
        (["--complexity", "30/30/30"], 2, ["sum to 90", "30/50/20"]),
        (["--complexity", "30/70"], 2, ["2 values, expected 3"]),
        (["--count", "0"], 2, ["--count"]),
    ],
)
def test_bad_flags_are_one_line_errors_before_anything_runs(fake_env, capsys, args, code, words):
    out = fake_env / "run"
    rc, _, err = cli(capsys, "generate", "--model", "fake", "--output", str(out), *args)
    line = error_line(err)
    assert rc == code and all(w in line for w in words), line
    assert not out.exists()


def test_unknown_model_and_wrong_engine_name_what_is_known(fake_env, capsys):
    rc, _, err = cli(capsys, "generate", "--model", "no-such-model", "--output", str(fake_env / "a"))
    assert rc == 2 and "unknown model 'no-such-model'" in error_line(err) and "fake" in error_line(err)
    rc, _, err = cli(capsys, "local", "--model", "fake", "--output", str(fake_env / "b"))
    assert rc == 2 and "not vllm" in error_line(err)
    rc, _, err = cli(capsys, "api", "--provider", "nowhere", "--model", "x", "--output", str(fake_env / "c"))
    assert rc == 2 and "unknown provider 'nowhere'" in error_line(err)


def test_malformed_template_yaml_names_the_file(fake_env, capsys):
    domains = fake_env / "tpl" / "domains"
    domains.mkdir(parents=True)
    (domains / "robotics.yaml").write_text("title: [unclosed\ndescription: x\n")
    rc, _, err = cli(capsys, "generate", "--model", "fake", "--templates", str(fake_env / "tpl"), "--output", str(fake_env / "r"))
    line = error_line(err)
    assert rc == 2 and "robotics.yaml" in line and "YAML" in line


def test_output_path_that_is_not_writable(fake_env, capsys):
    blocker = fake_env / "a-file"
    blocker.write_text("not a folder")
    rc, _, err = cli(capsys, "generate", "--model", "fake", "--count", "4", "--output", str(blocker / "run"))
    assert rc == 4 and "--output" in error_line(err)


@pytest.mark.graphviz
def test_garbage_model_is_counted_and_stops_at_the_cap_keeping_earlier_records(fake_env, capsys, monkeypatch, require_graphviz):
    out = fake_env / "run"
    base = ["generate", "--model", "fake", "--count", "12", "--output", str(out), "--batch-size", "4"]
    rc, _, _ = cli(capsys, *base, "--max-candidates", "4")
    assert rc == 6
    before = (out / "data.jsonl").read_bytes()
    assert len(before.splitlines()) == 4

    monkeypatch.setenv("SYNTHGEN_FAKE_GARBAGE_RATE", "1.0")
    rc, summary, err = cli(capsys, *base, "--max-candidates", "12", "--resume")
    assert rc == 6 and "hard candidate cap hit" in err and "--resume" in err
    assert (out / "data.jsonl").read_bytes() == before, "accepted records must survive a bad resume"
    failed = [json.loads(line) for line in (out / "failed_prompts.jsonl").read_text().splitlines()]
    assert len(failed) == 8 and {f["reason"] for f in failed} == {"malformed_output"}
    assert "failed: malformed_output" in summary and "8" in summary
    state = json.loads((out / "run.json").read_text())
    assert state["status"] == "stopped:cap" and state["summary"]["failed"] == {"malformed_output": 8}


def test_dry_run_prints_plan_and_estimate_and_generates_nothing(fake_env, capsys, monkeypatch):
    (fake_env / "models" / "fake.yaml").write_text(
        "alias: fake\nbackend: fake\nthroughput_tokens_per_s: 100\nprices:\n  input_per_1m: 1.0\n  output_per_1m: 2.0\n"
    )
    monkeypatch.setenv("SYNTHGEN_COUNT", "50")  # configuration from the environment too
    out = fake_env / "run"
    rc, stdout, _ = cli(capsys, "generate", "--model", "fake", "--domains", "robotics,workflows", "--complexity", "20/60/20",
                        "--output", str(out), "--dry-run")
    assert rc == 0 and not out.exists()
    assert "plan: 50 examples" in stdout and "dry run: nothing generated" in stdout
    rows = {line.split()[0]: [int(x) for x in line.split()[1:]] for line in stdout.splitlines() if line.strip().startswith(("robotics", "workflows"))}
    assert rows == {"robotics": [5, 15, 5], "workflows": [5, 15, 5]}
    assert "requests: 50" in stdout and "GPU-hours: ~" in stdout and "cost: ~$" in stdout


def test_api_builds_a_spec_on_the_fly_or_uses_the_registry_alias():
    from synthgen.commands.generate import api_spec

    spec = api_spec("ollama", "llama3.2", "http://127.0.0.1:11434/v1")
    assert (spec.alias, spec.backend, spec.provider, spec.api_model) == ("ollama:llama3.2", "openai", "ollama", "llama3.2")
    assert spec.base_url == "http://127.0.0.1:11434/v1"
    known = api_spec("nim", "nim-qwen2.5-coder-32b", None)
    assert known.alias == "nim-qwen2.5-coder-32b" and known.api_model == "qwen/qwen2.5-coder-32b-instruct"


def test_a_dry_run_of_a_billion_does_not_build_the_plan(fake_env):
    """--dry-run --count 1000000000 built every plan item and died with a MemoryError; now it
    renders a bounded sample and scales the estimate, inside a 2 GB address space."""
    import resource
    import subprocess
    import sys

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))

    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run([sys.executable, "-m", "synthgen", "generate", "--model", "fake", "--count", "1000000000", "--dry-run",
                           "--output", str(fake_env / "dry")], capture_output=True, text=True, timeout=300, cwd=root,
                          preexec_fn=limit, env={**__import__("os").environ, "PYTHONPATH": str(root)})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "requests: 1000000000" in proc.stdout and "from 2,000 sampled prompts" in proc.stdout
    assert not (fake_env / "dry").exists()


def test_resume_with_the_default_complexity_spelled_out_is_the_same_config(fake_env, capsys):
    """A run started without --complexity resumed with --complexity 30/50/20 (the default)
    was refused as a changed config; other weights still are."""
    out = fake_env / "run"
    rc, _, err = cli(capsys, "generate", "--model", "fake", "--count", "6", "--output", str(out))
    assert rc == 0, err
    for spelled in ("30/50/20", "simple=30,medium=50,complex=20", "0.3/0.5/0.2"):
        rc, _, err = cli(capsys, "generate", "--model", "fake", "--count", "6", "--output", str(out), "--resume",
                         "--complexity", spelled)
        assert rc == 0, (spelled, err)
    rc, _, err = cli(capsys, "generate", "--model", "fake", "--count", "6", "--output", str(out), "--resume", "--complexity", "20/50/30")
    assert rc == 5 and "config changed" in error_line(err)


def test_a_hung_endpoint_stops_the_run_within_the_bound_the_user_sets(fake_env):
    """An endpoint that lists its model but never answers a completion took about 54 minutes to give
    up on --count 6 (120 s x 3 attempts x waves), and nothing could be set from the CLI or the
    environment. Now --request-timeout / --request-attempts / --give-up-after (or their
    SYNTHGEN_* variables) bound it: here well under a minute, one line, run.json saved failed."""
    import os
    import socket
    import subprocess
    import sys
    import threading
    import time

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    models = b'{"object": "list", "data": [{"id": "m", "object": "model"}]}'

    def serve(conn: socket.socket) -> None:  # GET /models answers; a completion never does
        try:
            head = conn.recv(65536)
            if head.startswith(b"GET"):
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
                             b"Connection: close\r\n\r\n%s" % (len(models), models))
                conn.close()
        except OSError:
            pass

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn = server.accept()[0]
            except OSError:
                continue
            held.append(conn)
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    root = Path(__file__).resolve().parents[2]
    out = fake_env / "hung"
    env = {**os.environ, "PYTHONPATH": str(root), "SYNTHGEN_REQUEST_ATTEMPTS": "2"}
    cmd = [sys.executable, "-m", "synthgen", "api", "--provider", "vllm-server", "--base-url",
           f"http://127.0.0.1:{server.getsockname()[1]}/v1", "--model", "m", "--count", "6", "--output", str(out),
           "--request-timeout", "1", "--give-up-after", "4"]
    try:
        start = time.monotonic()
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, cwd=root)
        took = time.monotonic() - start
    finally:
        stop.set()
        thread.join(5)
        for conn in held:
            conn.close()
        server.close()
    assert proc.returncode == 3, proc.stderr  # BackendError's exit code
    assert took < 60, took
    assert "Traceback" not in proc.stderr
    assert "sent no reply for" in error_line(proc.stderr)
    state = json.loads((out / "run.json").read_text())
    assert state["status"] == "failed" and "sent no reply" in state["stop_reason"]


def test_messages_say_what_is_wrong(fake_env, capsys):
    """--model some.yaml (the file exists) said it does not exist, --templates FILE the same,
    and the hint listed "known complexitys"."""
    spec = fake_env / "my-model.yaml"
    spec.write_text("alias: my-fake\nbackend: fake\ndescription: from a path\n")
    rc, _, err = cli(capsys, "generate", "--model", str(spec), "--count", "2", "--output", str(fake_env / "by-path"))
    assert rc == 0, err  # a model YAML given by its path is used as it is
    assert json.loads((fake_env / "by-path" / "run.json").read_text())["fingerprint"]["model"] == "my-fake"
    notes = fake_env / "notes.txt"
    notes.write_text("not a model\n")
    rc, _, err = cli(capsys, "generate", "--model", str(notes), "--output", str(fake_env / "x"))
    assert rc == 2 and "is a file, not a model folder or a model YAML" in error_line(err)
    rc, _, err = cli(capsys, "generate", "--model", "fake", "--templates", str(notes), "--output", str(fake_env / "y"))
    assert rc == 2 and "is a file; --templates takes a folder" in error_line(err)
    rc, _, err = cli(capsys, "generate", "--model", "fake", "--complexity", "bogus=1", "--output", str(fake_env / "z"))
    assert rc == 2 and "known complexities: complex, medium, simple" in error_line(err)
    rc, _, err = cli(capsys, "generate", "--model", "fake", "--count", "abc", "--output", str(fake_env / "w"))
    assert rc == 2 and "Invalid value for '--count'" in error_line(err) and len(err.strip().splitlines()) == 1
