"""The crash-consistency harness: run the real CLI (fake engine) in a forked child, crash
it at the N-th I/O point of the run folder (``synthgen.runfolder.faults``), resume it in
another child until it completes, and check what the folder holds.

A fork starts in milliseconds with every module already imported, so every point of a run
can be tried in CI; each child runs ``synthgen.cli.main`` exactly as the command line
does, with its stderr in a file."""

from __future__ import annotations

import json
import os
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path

from synthgen.steps.base import FAILED_REASONS

KNOBS = {"SYNTHGEN_FAKE_GARBAGE_RATE": "0.15", "SYNTHGEN_FAKE_DUPLICATE_RATE": "0.15", "SYNTHGEN_FAKE_ERROR_RATE": "0.05"}


@dataclass(slots=True)
class Outcome:
    code: int  # exit status, or -signal
    stderr: str


@dataclass(slots=True)
class Tally:
    points: int = 0
    crashes: int = 0
    resumes: int = 0
    checks: int = 0
    by_mode: dict[str, int] = field(default_factory=dict)

    def line(self) -> str:
        modes = ", ".join(f"{m} {n}" for m, n in sorted(self.by_mode.items()))
        return (f"fault injection: {self.crashes} crashes ({modes}) at {self.points} distinct points, "
                f"{self.resumes} resumes, {self.checks} invariant checks passed")


def run_cli(args: list[str], folder_env: dict[str, str], err_file: Path, *, mode: str = "", at: int = 0,
            trace: Path | None = None, timeout_s: float = 120, in_process: bool = False, cwd: Path | None = None) -> Outcome:
    """``synthgen ARGS`` in a forked child with the fault armed; its exit status and stderr.
    ``in_process``: run here instead, unarmed (to import everything before the forks)."""
    if in_process:
        from unittest import mock

        from synthgen.cli import main

        with mock.patch.dict(os.environ, folder_env):
            try:
                main(args)
            except SystemExit as exc:
                return Outcome(int(exc.code or 0), "")
        return Outcome(0, "")
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        code = 70
        try:
            fd = os.open(err_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(fd, 2)
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, 1)
            sys.stderr = os.fdopen(2, "w", buffering=1, closefd=False)  # not pytest's capture
            sys.stdout = os.fdopen(1, "w", closefd=False)
            os.environ.update(folder_env)
            if cwd is not None:
                os.chdir(cwd)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            from synthgen.cli import main
            from synthgen.runfolder import faults

            faults.arm(mode, at, str(trace) if trace else "")
            try:
                main(args)
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except BaseException:  # noqa: BLE001 - a traceback is what the test looks for
            import traceback

            traceback.print_exc()
            code = 71
        finally:
            sys.stderr.flush()
            os._exit(code)
    _, status = _wait(pid, timeout_s)
    code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
    return Outcome(code, err_file.read_text(errors="replace") if err_file.exists() else "")


def _wait(pid: int, timeout_s: float) -> tuple[int, int]:
    import time

    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return done, status
        time.sleep(0.01)
    os.kill(pid, signal.SIGKILL)
    return os.waitpid(pid, 0)


def lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True) if path.exists() else []


def check_folder(folder: Path, target: int, batch_size: int, crashes: int = 1) -> int:
    """Every invariant of a completed run folder; the number of checks made."""
    checks = 0

    def ok(condition: bool, what: str) -> None:
        nonlocal checks
        assert condition, f"{folder}: {what}"
        checks += 1

    state = json.loads((folder / "run.json").read_text())
    ok(state["status"] == "completed", f"status {state['status']!r} ({state.get('stop_reason')})")
    ok("pending" not in state, "a batch is still pending")
    files = {kind: lines(folder / name) for kind, name in
             (("accepted", "data.jsonl"), ("rejected", "rejected.jsonl"), ("failed", "failed_prompts.jsonl"))}
    for kind, rows in files.items():
        ok(all(r.endswith(b"\n") for r in rows), f"a torn line in {kind}")
    parsed = {kind: [json.loads(r) for r in rows] for kind, rows in files.items()}
    accepted = parsed["accepted"]
    ok(len(accepted) == target, f"{len(accepted)} accepted records for a target of {target}")
    ids = [r["id"] for r in accepted]
    ok(len(set(ids)) == len(ids), "a duplicated accepted id")
    exact = [r["validation"]["hashes"]["exact"] for r in accepted]
    ok(len(set(exact)) == len(exact), "duplicated accepted content")
    every = ids + [r["id"] for r in parsed["rejected"]] + [r["id"] for r in parsed["failed"]]
    ok(len(set(every)) == len(every), "a candidate written twice (in one file or two)")
    ok(len(every) == state["candidates"], f"{len(every)} lines in the three files for {state['candidates']} candidates")
    counters = state["counters"]
    ok(counters["quota"]["forwarded"] == len(accepted), f"quota forwarded {counters['quota']['forwarded']} vs {len(accepted)} records")
    drops = {"rejected": 0, "failed": 0}
    for counts in counters.values():
        for key, n in counts.items():
            if key.startswith("dropped_"):
                drops["failed" if key.removeprefix("dropped_") in FAILED_REASONS else "rejected"] += n
    for kind in ("rejected", "failed"):
        ok(drops[kind] == len(parsed[kind]), f"counters say {drops[kind]} {kind}, the file holds {len(parsed[kind])}")
    first = next(iter(counters.values()))
    ok(first["total"] == state["candidates"], "the first step saw another number of candidates")
    sizes = {name: (folder / name).stat().st_size if (folder / name).exists() else 0
             for name in ("data.jsonl", "rejected.jsonl", "failed_prompts.jsonl")}
    ok(state["files"] == sizes, f"run.json's file sizes {state['files']} vs {sizes}")
    calls = state["ledger"]["calls"]
    ok(state["candidates"] <= calls <= state["candidates"] + crashes * batch_size,
       f"ledger calls {calls} for {state['candidates']} candidates (batch {batch_size})")
    for raw in lines(folder / "log.jsonl"):
        json.loads(raw)
    ok(True, "log.jsonl lines parse")
    return checks
