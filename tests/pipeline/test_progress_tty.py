"""What a person sees: `synthgen generate` under a real pseudo-terminal draws the rich bar and
prints the summary table; with pipes instead of a terminal it writes no control codes at all.

The fake backend stands in for the engine; the CLI, the runner, rich and the terminal are real.
"""

from __future__ import annotations

import errno
import fcntl
import os
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.slow, pytest.mark.graphviz, pytest.mark.usefixtures("require_graphviz")]

# Variables that would make rich colour a pipe or plain a terminal, whatever the stream is.
_RICH_VARS = ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "COLUMNS", "LINES", "JUPYTER_COLUMNS")


@pytest.fixture()
def env(tmp_path) -> dict[str, str]:
    models = tmp_path / "models"
    models.mkdir()
    (models / "fake.yaml").write_text("alias: fake\nbackend: fake\ndescription: test stand-in\n")
    base = {k: v for k, v in os.environ.items() if k not in _RICH_VARS and not k.startswith("SYNTHGEN_FAKE_")}
    return dict(base, PYTHONPATH=str(ROOT), SYNTHGEN_MODELS_DIR=str(models), SYNTHGEN_FAKE_DELAY_S="0.3",
                TERM="xterm-256color")


def command(out: Path) -> list[str]:
    return [sys.executable, "-m", "synthgen", "generate", "--model", "fake", "--count", "12", "--batch-size", "4",
            "--output", str(out)]


def run_in_pty(cmd: list[str], env: dict[str, str], timeout: float = 120) -> tuple[int, bytes]:
    """Run ``cmd`` with stdin, stdout and stderr on the slave side of a new 120x40 pty;
    everything the terminal received, and the exit status."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    proc = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=ROOT, start_new_session=True)
    os.close(slave)
    chunks = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if not ready:
                if proc.poll() is not None and not select.select([master], [], [], 0.2)[0]:
                    break
                continue
            try:
                data = os.read(master, 65536)
            except OSError as exc:  # EIO: the child closed its side of the terminal
                if exc.errno != errno.EIO:
                    raise
                break
            if not data:
                break
            chunks.append(data)
        return proc.wait(timeout=30), b"".join(chunks)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)


def test_on_a_terminal_the_bar_renders_and_the_summary_prints(tmp_path, env):
    code, raw = run_in_pty(command(tmp_path / "run"), env)
    text = raw.decode("utf-8", "replace")
    assert code == 0, text[-3000:]
    assert b"\x1b[" in raw, "no control codes: the bar did not draw live"
    assert "\x1b[?25l" in text and "\x1b[?25h" in text, "the live display hides the cursor, then gives it back"
    assert "accepted" in text and "━" in text and "12/12" in text, text[-3000:]
    assert "synthgen run" in text and "completed" in text and "USD per accepted example" in text
    assert "Traceback" not in text
    assert (tmp_path / "run" / "data.jsonl").read_text().count("\n") == 12


def test_without_a_terminal_no_control_codes_are_written(tmp_path, env):
    proc = subprocess.run(command(tmp_path / "run"), env=env, cwd=ROOT, capture_output=True, timeout=120,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert b"\x1b" not in proc.stdout and b"\x1b" not in proc.stderr
    out, err = proc.stdout.decode(), proc.stderr.decode()
    assert "synthgen run" in out and "completed" in out and "USD per accepted example" in out
    assert "synthgen: accepted" in err  # the plain progress line instead of the bar
    assert (tmp_path / "run" / "data.jsonl").read_text().count("\n") == 12
