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
        with fh:
            for number, raw in enumerate(fh, 1):
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
    return RunView(folder, state, live=_locked(folder) or _locked(folder / LOCK_FILE))


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
