"""Reading a run folder without touching it: what export, report and compare open.

``open_run(path)`` never takes the run's lock and never writes (no repairs): a run that is
still being written is read up to its last whole line, and says so (``live``), a torn last
line is skipped and counted (``torn``), and a folder that is not a run is one
``OutputError`` line. The writer's own opener (``RunFolder``) repairs; this one only reads.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from synthgen.errors import OutputError, ResumeError
from synthgen.runfolder.folder import FILES, LOCK_FILE, STATE_FILE, Kind
from synthgen.runfolder.state import check_state


@dataclass(slots=True)
class RunView:
    """One run folder, read-only: its state and its records."""

    path: Path
    state: dict[str, Any]
    live: bool  # another process holds the run's lock: the run is still being written
    torn: dict[str, int] = field(default_factory=dict)  # kind -> torn last lines skipped
    limits: dict[str, int] = field(default_factory=dict)  # kind -> bytes of its file that belong to the run's state
    note: str | None = None  # how a batch a stop left pending is read (``settled``)

    @property
    def recipe(self) -> str:
        return str(self.state.get("fingerprint", {}).get("recipe", "nl2dot"))

    @property
    def recipe_ref(self) -> str:
        """What loads this run's recipe: the --recipe it ran with (a registered name or
        module:Class); folders from before it was saved name a registered recipe."""
        return str(self.state.get("recipe_ref") or self.recipe)

    @property
    def status(self) -> str:
        return str(self.state.get("status", "?"))

    def records(self, kind: Kind = "accepted") -> Iterator[dict[str, Any]]:
        """Whole JSON lines of ``kind``'s file in order; a torn last line (a writer killed
        mid-write, or still writing) is skipped and counted in ``torn``."""
        path = self.path / FILES[kind]
        try:
            fh = open(path, "rb")
        except FileNotFoundError:
            return
        except OSError as exc:
            raise OutputError(f"cannot read {path}: {exc.strerror or exc}") from None
        limit = self.limits.get(kind)
        read = 0
        with fh:
            for number, raw in enumerate(fh, 1):
                read += len(raw)
                if limit is not None and read > limit:  # lines of a batch that is not part of the state
                    return
                if not raw.endswith(b"\n"):
                    self.torn[kind] = self.torn.get(kind, 0) + 1
                    return
                if not raw.strip():
                    continue
                try:
                    yield orjson.loads(raw)
                except ValueError:
                    raise OutputError(
                        f"{path}:{number}: not a JSON record", hint="the file was changed outside synthgen"
                    ) from None


def open_run(path: str | os.PathLike[str]) -> RunView:
    folder = Path(path).expanduser()
    state_path = folder / STATE_FILE
    if not folder.is_dir():
        raise OutputError(f"{folder} is not a folder", hint="give a run folder (the --output of synthgen generate)")
    try:
        text = state_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise OutputError(f"{folder} is not a synthgen run folder (no {STATE_FILE})",
                          hint="give a run folder (the --output of synthgen generate)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise OutputError(f"cannot read {state_path}: {exc}") from None
    try:
        state = check_state(json.loads(text), str(state_path))
    except ValueError:
        raise OutputError(f"{state_path} is not valid JSON") from None
    except ResumeError as exc:
        raise OutputError(str(exc), hint=exc.hint) from None
    view = RunView(folder, state, live=_locked(folder) or _locked(folder / LOCK_FILE))
    if isinstance(state.get("pending"), dict):
        settled(view)
    return view


def settled(view: RunView) -> None:
    """A batch a stop left pending (``RunFolder.commit_batch``), read the way the next open
    will settle it, without writing: whole on disk, its state after it; else the state and
    the files' lengths before it (the batch's lines are not read)."""
    pending = view.state["pending"]
    try:
        before, after = dict(pending["before"]), dict(pending["after"])
        files_before, files_after = dict(pending["files_before"]), dict(pending["files_after"])
    except (KeyError, TypeError, ValueError):
        raise OutputError(f"{view.path / STATE_FILE}: its pending batch is not readable",
                          hint="the file was changed outside synthgen") from None
    sizes = {}
    for name in FILES.values():
        try:
            sizes[name] = (view.path / name).stat().st_size
        except OSError:
            sizes[name] = 0
    whole = all(sizes.get(name, 0) >= int(n) for name, n in files_after.items())
    state = {k: v for k, v in view.state.items() if k != "pending"}
    if whole:
        state.update(after)
        view.limits = {kind: int(files_after[name]) for kind, name in FILES.items() if name in files_after}
        view.note = "its last batch was written whole but not yet saved in run.json: read as saved"
    else:
        state.update(before)
        state["ledger"] = after.get("ledger", state.get("ledger"))
        view.limits = {kind: int(files_before[name]) for kind, name in FILES.items() if name in files_before}
        view.note = "it stopped while writing a batch: that batch's lines are left out (a resume redoes it)"
    view.state = state


def _locked(lock: Path) -> bool:
    """Whether a writer holds the folder's lock (on the directory, or ``run.lock``) now: a
    shared probe, released at once."""
    try:
        fd = os.open(lock, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)
