"""`synthgen serve`: generation jobs over HTTP, and a web page to run and watch them.

A job is a run folder plus a ``synthgen generate`` process: the service starts the process,
keeps the job's row in SQLite (``jobs.db`` beside the run folders) and reads everything else
from the run folder (``run.json``, ``log.jsonl``, the JSONL files) with the read-only reader
that report and export use. It never runs the generation loop in its own process, so a
server restart loses no job: a process still running is adopted, a dead one is marked
stopped and can be resumed.
"""
