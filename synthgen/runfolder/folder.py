"""The run folder: append-only JSONL sinks, an exclusive lock, and resumable state.

A run can be killed at any instant (SIGKILL, OOM, a power cut), so the folder is written
so that whatever is on disk is always a valid prefix of the run:

- records are appended as whole JSON lines in one ``write`` per batch, then fsynced; a kill
  mid-write can only leave a torn *last* line, which the next open cuts away and reports;
- ``run.json`` is replaced atomically (temp file + fsync + ``os.replace``);
- a failed write (disk full) is rolled back to the last whole line, so nothing already
  written is lost and nothing half-written remains;
- the folder itself (its directory) and ``run.lock`` are held with ``flock`` for the life of
  the run, so two runs cannot write one folder, even when ``run.lock`` is deleted under a
  running one; the kernel drops the locks when the process dies, so a killed run never
  leaves a stale lock behind;
- every ``run.json`` save records the byte length of the three JSONL files, and a batch is
  committed in two steps (``commit_batch``): first ``run.json`` is saved with the batch
  *pending* (the files' lengths and the state before and after it), then the batch's lines
  are appended (rejected, failed, accepted last), then ``run.json`` is saved with the
  batch's counters. A stop anywhere in between is settled (``settle``) by the process that
  stopped or, after a kill, by the next open: if every file reached its length after the
  batch, the batch is whole on disk and its saved state is taken (rolled forward);
  otherwise all three files are cut back to their lengths before it, its counters are
  dropped and the batch is redone from its plan index (its compute stays in the ledger:
  it was spent). So ``run.json``'s counters always describe exactly what the files hold.
  Lines past the saved lengths with no batch pending (an edit outside synthgen) are cut
  from the side files; accepted records are never cut outside a pending batch.

Opening a folder that already holds a run (``run.json``): with ``resume`` it must have the
same fingerprint. Without ``resume`` it is refused once it has accepted records; an attempt
killed before its first accepted record (same config) is simply continued, under the same
run id, and one that wrote nothing at all is started over if the config changed.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from synthgen.errors import OutputError, ResumeError, redact
from synthgen.runfolder import faults
from synthgen.runfolder.log import RunLogger, repair_torn_tail, scrub
from synthgen.runfolder.state import STATUS_FAILED, STATUS_INTERRUPTED, check_state, diff_fingerprints, new_state, now_iso

Kind = Literal["accepted", "rejected", "failed"]

FILES: dict[str, str] = {"accepted": "data.jsonl", "rejected": "rejected.jsonl", "failed": "failed_prompts.jsonl"}
BATCH_ORDER = ("rejected", "failed", "accepted")  # accepted last: when it is whole on disk, so is the batch
STATE_FILE = "run.json"
LOG_FILE = "log.jsonl"
LOCK_FILE = "run.lock"

# Lock fds this process holds. A child made by fork() (multiprocessing's default, some engines'
# workers) shares the lock through its copy of the fd and would keep holding it after this
# process is killed, so resume would see a stale "another run is writing". Closing the
# child's copy right after fork (not LOCK_UN, which would release it for us too) prevents that.
_HELD_LOCKS: set[int] = set()


def _drop_locks_in_child() -> None:
    for fd in list(_HELD_LOCKS):
        try:
            os.close(fd)
        except OSError:
            pass
    _HELD_LOCKS.clear()


os.register_at_fork(after_in_child=_drop_locks_in_child)


def _os_message(exc: OSError) -> str:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return "the disk is full"
    if exc.errno == errno.EFBIG:
        return "the file hit its size limit (EFBIG: the file system's or the process's maximum file size)"
    return exc.strerror or str(exc)


# Present in a folder that holds no run yet without making it someone else's folder.
_HARMLESS = frozenset({LOCK_FILE, STATE_FILE + ".tmp"})


class RunFolder:
    """One run's output folder, locked for the life of a ``with`` block."""

    def __init__(self, path: str | os.PathLike[str], *, resume: bool, fingerprint: dict[str, Any]) -> None:
        self.path = Path(path).expanduser()
        self.resume = resume
        self.fingerprint = fingerprint
        self.repairs: list[str] = []  # human lines: torn tails and unsaved side lines cut on open
        self.notes: list[str] = []  # human lines: how an existing run was taken up
        self.torn_lines = 0
        self.state: dict[str, Any] = {}  # the run's state: the folder's own, or a fresh one
        self._lock_fd: int | None = None
        self._dir_lock_fd: int | None = None
        self._fds: dict[str, int] = {}

    # -- opening -------------------------------------------------------------------------

    def __enter__(self) -> RunFolder:
        self._make_folder()
        self._take_lock()
        state: dict[str, Any] | None = None
        try:
            state = self._take_up()
            if state is None:
                # The fingerprint is on disk before any record, so a kill after the first
                # append still leaves a folder that --resume recognises.
                state = new_state(self.fingerprint)
                self.save_state(state)
            self.state = state
        except BaseException as exc:
            if state is not None and isinstance(exc, OutputError | KeyboardInterrupt):  # don't leave it "running"
                failed = isinstance(exc, OutputError)
                why = exc.one_line() if isinstance(exc, OutputError) else "interrupted while the run folder was opened"
                try:
                    self.save_state({**state, "status": STATUS_FAILED if failed else STATUS_INTERRUPTED, "stop_reason": why})
                except OutputError:
                    pass
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _make_folder(self) -> None:
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(
                f"cannot create the output folder {self.path}: {_os_message(exc)}",
                hint="choose a writable --output path",
            ) from None
        if not os.access(self.path, os.W_OK | os.X_OK):
            raise OutputError(f"the output folder {self.path} is not writable", hint="choose a writable --output path")

    def _take_lock(self) -> None:
        """The folder's own lock (``flock`` on the directory: nothing in it can be deleted to
        let a second writer in), then ``run.lock`` as well (for readers and people)."""
        try:
            dir_fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY)
        except OSError as exc:
            raise OutputError(f"cannot open {self.path}: {_os_message(exc)}", hint="choose a writable --output path") from None
        if not _try_flock(dir_fd):
            raise OutputError(f"another run is writing {self.path}",
                              hint="wait for it to finish, or give this run a different --output")
        try:
            fd = os.open(self.path / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            _release(dir_fd)
            raise OutputError(f"cannot write in {self.path}: {_os_message(exc)}", hint="choose a writable --output path") from None
        if not _try_flock(fd):
            _release(dir_fd)
            raise OutputError(
                f"another run is writing {self.path}",
                hint="wait for it to finish, or give this run a different --output",
            )
        self._lock_fd, self._dir_lock_fd = fd, dir_fd
        _HELD_LOCKS.update((fd, dir_fd))
        try:  # who holds it, for a person looking at the folder; the flock is what counts
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        except OSError:
            pass

    def _take_up(self) -> dict[str, Any] | None:
        """The folder's saved state when this run continues it, ``None`` when it starts fresh;
        refuses (one line) what would mix two runs or overwrite accepted records."""
        state = self.load_state()
        if state is None:
            self._refuse_foreign_content()
            return None
        changes = diff_fingerprints(state.get("fingerprint", {}), self.fingerprint)
        if not self.resume:
            accepted = self._whole_lines("accepted")
            if accepted:
                raise OutputError(
                    f"{self.path} already holds run {state.get('run_id', '?')} with {accepted} accepted "
                    f"record{'s' if accepted != 1 else ''} (status: {state.get('status', '?')}); "
                    "refusing to overwrite it",
                    hint="add --resume to continue that run, or give a new --output",
                )
            if changes and not any(self._whole_lines(kind) for kind in FILES):
                self.notes.append(
                    f"{self.path} held an attempt with another config that wrote no records; starting a new run in it"
                )
                return None
            if not changes:
                self.notes.append(
                    f"continuing run {state.get('run_id', '?')} in {self.path} (killed before its first accepted record)"
                )
        if changes:
            raise ResumeError(
                f"cannot {'resume' if self.resume else 'start a new run in'} {self.path}: "
                f"the config changed ({'; '.join(changes)})",
                hint="rerun with the original settings, or give a new --output to start over",
            )
        self.settle(state, on_open=True)
        self._repair_tails(state)
        return state

    def _whole_lines(self, kind: str) -> int:
        """Newline count of ``kind``'s file (a torn last line does not count)."""
        count = 0
        try:
            with open(self._file(kind), "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    count += block.count(b"\n")
        except FileNotFoundError:
            return 0
        except OSError as exc:
            raise OutputError(f"cannot read {self._file(kind)}: {_os_message(exc)}") from None
        return count

    def _refuse_foreign_content(self) -> None:
        present = sorted(p.name for p in self.path.iterdir() if p.name not in _HARMLESS)
        if not present:
            return
        shown = ", ".join(present[:4]) + (", ..." if len(present) > 4 else "")
        if self.resume:
            raise ResumeError(
                f"{self.path} holds {shown} but no {STATE_FILE}; it is not a synthgen run folder",
                hint="give a new --output",
            )
        raise OutputError(
            f"the output folder {self.path} is not empty ({shown})",
            hint="add --resume to continue the run in it, or give a new --output",
        )

    def check_resume(self, fingerprint: dict[str, Any]) -> dict[str, Any] | None:
        """The saved state if this folder can be resumed with ``fingerprint``.

        ``None`` for a folder that holds no run yet (resuming it simply starts the run).
        Raises ``ResumeError`` naming every key that changed."""
        state = self.load_state()
        if state is None:
            leftovers = [name for name in FILES.values() if (self.path / name).exists()]
            if leftovers:
                raise ResumeError(
                    f"{self.path} has {', '.join(leftovers)} but no {STATE_FILE}; it is not a synthgen run folder",
                    hint="give a new --output",
                )
            return None
        changes = diff_fingerprints(state.get("fingerprint", {}), fingerprint)
        if changes:
            raise ResumeError(
                f"cannot resume {self.path}: the config changed ({'; '.join(changes)})",
                hint="rerun with the original settings, or give a new --output to start over",
            )
        return state

    def _repair_tails(self, state: dict[str, Any]) -> None:
        saved = state.get("files") or {}
        for kind in ("rejected", "failed"):
            name = FILES[kind]
            size = saved.get(name)
            if isinstance(size, int) and size >= 0:
                cut = self._cut_to(self.path / name, size)
                if cut:
                    self.repairs.append(
                        f"{name}: removed {cut} line{'s' if cut != 1 else ''} written after the last saved "
                        "state (a stop between a batch's write and its save; the batch is redone)"
                    )
        for name in (*FILES.values(), LOG_FILE):
            cut = repair_torn_tail(self.path / name)
            if cut:
                self.torn_lines += 1
                self.repairs.append(f"{name}: removed a torn last line ({cut} bytes) left by an interrupted write")
        if self.repairs:
            log = RunLogger(self.path / LOG_FILE)
            for line in self.repairs:
                log.event("repair", message=line)
            log.close()

    def _cut_to(self, path: Path, size: int) -> int:
        """Truncate ``path`` to ``size`` bytes when it is longer; the number of lines cut
        (a torn last line counts as one)."""
        try:
            with open(path, "rb+") as fh:
                end = fh.seek(0, os.SEEK_END)
                if end <= size:
                    return 0
                fh.seek(size)
                tail = fh.read()
                fh.truncate(size)
                fh.flush()
                os.fsync(fh.fileno())
        except FileNotFoundError:
            return 0
        except OSError as exc:
            raise OutputError(f"cannot repair {path}: {_os_message(exc)}") from None
        return tail.count(b"\n") + (0 if tail.endswith(b"\n") else 1)

    # -- reading -------------------------------------------------------------------------

    def existing(self, kind: Kind) -> Iterator[dict[str, Any]]:
        """Records already written for ``kind``. A bad line in the middle means the file was
        edited or corrupted by something else: stop with its line number, don't guess."""
        path = self._file(kind)
        if not path.exists():
            return
        with open(path, "rb") as fh:
            for number, raw in enumerate(fh, 1):
                if not raw.strip():
                    continue
                try:
                    yield json.loads(raw)
                except ValueError:
                    raise OutputError(
                        f"{path}:{number}: not a JSON record",
                        hint="the file was changed outside synthgen; fix or remove that line",
                    ) from None

    def existing_accepted(self) -> Iterator[dict[str, Any]]:
        return self.existing("accepted")

    def load_state(self) -> dict[str, Any] | None:
        path = self.path / STATE_FILE
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise OutputError(f"cannot read {path}: {_os_message(exc)}") from None
        try:
            data = json.loads(text)
        except ValueError:
            raise ResumeError(f"{path} is not valid JSON", hint="give a new --output to start over") from None
        return check_state(data, str(path))

    # -- writing -------------------------------------------------------------------------

    def append(self, kind: Kind, records: list[dict[str, Any]]) -> None:
        """Append whole lines in one write, then fsync (outside a batch: tests, tools)."""
        self._append(kind, _lines(records))

    def _append(self, kind: str, data: bytes) -> None:
        """One write of whole lines, then fsync. On failure the file is cut back to where it
        was, so it never holds half a batch or half a line."""
        if not data:
            return
        fd = self._fd(kind)
        start = os.fstat(fd).st_size
        try:
            faults.point(f"append.{kind}.write")
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            faults.point(f"append.{kind}.fsync")
            os.fsync(fd)
            faults.point(f"append.{kind}.done")
        except OSError as exc:
            self._roll_back(fd, start)
            fix = "raise the file-size limit (ulimit -f) or use another file system" if exc.errno == errno.EFBIG else "free some space"
            raise OutputError(
                f"cannot write {self._file(kind)}: {_os_message(exc)}; records written before this batch are kept",
                hint=f"{fix}, then rerun with --resume",
            ) from None

    def commit_batch(self, state: dict[str, Any], records: dict[str, list[dict[str, Any]]],
                     before: dict[str, Any], after: dict[str, Any]) -> None:
        """Write one batch so that a stop at any instant leaves a state ``settle`` can make
        exact: ``run.json`` with the batch pending, the lines (accepted last), ``run.json``
        with ``after``. ``before`` / ``after``: the state's batch fields (counters,
        candidates, plan index, ledger, quota) without and with the batch. On an error
        ``state`` keeps the batch pending (after a failed append every file is cut back to
        its length before it): the caller's ``settle`` then says which way it went."""
        data = {kind: _lines(records.get(kind, [])) for kind in BATCH_ORDER}
        sizes = self._sizes()
        after_sizes = {FILES[kind]: sizes[FILES[kind]] + len(data[kind]) for kind in BATCH_ORDER}
        state["pending"] = {"files_before": sizes, "files_after": after_sizes, "before": before, "after": after}
        self.save_state(state)
        try:
            for kind in BATCH_ORDER:
                self._append(kind, data[kind])
        except OutputError:
            self._cut_all(sizes)  # ``state`` keeps the batch pending: settle() takes it back
            raise
        committed = {**state, **after}
        committed.pop("pending")
        self.save_state(committed)  # on failure ``state`` still has it pending, and settle() rolls it forward
        state.clear()
        state.update(committed)

    def settle(self, state: dict[str, Any], *, on_open: bool = False) -> str | None:
        """Finish a batch a stop left pending: ``"forward"`` when all its lines are on disk
        (its ``after`` state is taken), ``"back"`` when not (the files are cut back, its
        ``before`` state is taken, the ledger keeps its spend); ``None`` when none was."""
        pending = state.pop("pending", None)
        if not isinstance(pending, dict):
            return None
        try:
            files_before, files_after = dict(pending["files_before"]), dict(pending["files_after"])
            before, after = dict(pending["before"]), dict(pending["after"])
        except (KeyError, TypeError, ValueError):
            raise ResumeError(f"{self.path / STATE_FILE}: its pending batch is not readable",
                              hint="the file was changed outside synthgen; give a new --output to start over") from None
        now = self._sizes()
        whole = all(now.get(name, 0) >= size for name, size in files_after.items())
        if whole:
            self._cut_all(files_after)  # nothing can be past it; cut anyway rather than guess
            state.update(after)
            self.notes.append("the last batch was written whole before the run stopped; its state is saved now")
            outcome = "forward"
        else:
            cut = self._cut_all(files_before)
            state.update(before)
            state["ledger"] = after.get("ledger", state.get("ledger"))
            removed = ", ".join(f"{n} {FILES[k]}" for k, n in cut.items() if n) or "no lines"
            self.repairs.append(f"the run stopped while writing a batch: removed its {removed} line(s); the batch is redone")
            outcome = "back"
        self.save_state(state)
        if on_open:
            log = RunLogger(self.path / LOG_FILE)
            log.event("settle", outcome=outcome)
            log.close()
        return outcome

    def _cut_all(self, sizes: dict[str, int]) -> dict[str, int]:
        """Cut each JSONL file back to its length in ``sizes``; lines cut per kind."""
        cut = {}
        for kind in BATCH_ORDER:
            size = sizes.get(FILES[kind])
            cut[kind] = self._cut_to(self.path / FILES[kind], int(size)) if isinstance(size, int) and size >= 0 else 0
        return cut

    def _roll_back(self, fd: int, size: int) -> None:
        try:
            os.ftruncate(fd, size)
            os.fsync(fd)
        except OSError:
            pass  # the torn tail is cut on the next open instead

    def save_state(self, state: dict[str, Any]) -> None:
        """Replace run.json atomically: a reader sees the old state or the new, never half.
        Every string is redacted on the way out (a resume command or stop reason could
        carry a key)."""
        state["updated_at"] = now_iso()
        state["files"] = self._sizes()
        target = self.path / STATE_FILE
        temp = self.path / (STATE_FILE + ".tmp")
        data = (json.dumps(scrub(state), indent=2, ensure_ascii=False) + "\n").encode("utf-8")
        try:
            faults.point("state.write")
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
                faults.point("state.fsync")
                os.fsync(fd)
            finally:
                os.close(fd)
            faults.point("state.rename")
            os.replace(temp, target)
            faults.point("state.done")
            self._fsync_dir()
        except OSError as exc:
            raise OutputError(
                f"cannot write {target}: {_os_message(exc)}", hint="free some space, then rerun with --resume"
            ) from None

    def _sizes(self) -> dict[str, int]:
        """Byte length of each JSONL file now (every append before this is fsynced)."""
        sizes = {}
        for name in FILES.values():
            try:
                sizes[name] = (self.path / name).stat().st_size
            except FileNotFoundError:
                sizes[name] = 0
        return sizes

    def _fsync_dir(self) -> None:
        fd = os.open(self.path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    # -- plumbing ------------------------------------------------------------------------

    def _file(self, kind: str) -> Path:
        if kind not in FILES:
            raise ValueError(f"unknown record kind {kind!r}; expected one of {', '.join(FILES)}")
        return self.path / FILES[kind]

    def _fd(self, kind: str) -> int:
        if self._lock_fd is None:
            raise RuntimeError("RunFolder used outside its 'with' block")
        fd = self._fds.get(kind)
        if fd is None:
            path = self._file(kind)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            except OSError as exc:
                raise OutputError(f"cannot write {path}: {_os_message(exc)}") from None
            self._fds[kind] = fd
        return fd

    def close(self) -> None:
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()
        for fd in (self._lock_fd, self._dir_lock_fd):
            if fd is not None:
                _HELD_LOCKS.discard(fd)
                _release(fd)
        self._lock_fd = self._dir_lock_fd = None


def _try_flock(fd: int) -> bool:
    """An exclusive flock on ``fd``, or ``False`` (and ``fd`` closed) when another holds it."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return False
    return True


def _release(fd: int) -> None:
    fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)


def _lines(records: list[dict[str, Any]]) -> bytes:
    """JSON lines with every secret redacted, model text included: an endpoint that echoes
    its API key (or a URL's credentials) into a reply must not get it into a record."""
    return b"".join(redact(json.dumps(r, ensure_ascii=False)).encode("utf-8") + b"\n" for r in records)
