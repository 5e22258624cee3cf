"""The run folder: one run's files on disk, whoever reads or writes them.

``folder.RunFolder`` is the writer (lock, append + fsync, atomic ``run.json``, repairs on
open); ``state`` is the schema of ``run.json``; ``log`` the structured ``log.jsonl``;
``envelope`` the fields every record carries; ``reader.open_run`` the read-only opener
that export, report and compare use (it never takes the lock and never writes).
"""

from synthgen.runfolder.folder import FILES, LOCK_FILE, LOG_FILE, STATE_FILE, RunFolder

__all__ = ["FILES", "LOCK_FILE", "LOG_FILE", "STATE_FILE", "RunFolder"]
