"""What a person watching a run sees: a live bar on a terminal, plain lines in a log, and
the summary table at the end. Everything shown comes from the step counters, the quota
and the ledger, never from ad-hoc log lines, so the summary and run.json always agree.
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO


def _rate(ledger: Any) -> float:
    return ledger.completion_tokens / ledger.engine_seconds if ledger.engine_seconds else 0.0


def status_line(quota: Any, ledger: Any, candidates: int) -> str:
    per_level: dict[str, list[int]] = {}
    for (_, level), target in quota.targets.items():
        cell = per_level.setdefault(level, [0, 0])
        cell[0] += min(quota.counts[(_, level)], target)
        cell[1] += target
    levels = " ".join(f"{lvl} {a}/{t}" for lvl, (a, t) in per_level.items())
    acc = quota.accepted_total / candidates if candidates else 0.0
    return (
        f"accepted {quota.accepted_total}/{quota.target_total} ({levels}) | candidates {candidates} "
        f"| acceptance {acc:.0%} | {_rate(ledger):.0f} tok/s | {ledger.gpu_hours:.4f} GPU-h ${ledger.usd:.4f}"
    )


class Progress:
    """A rich bar on stderr when it is a terminal, otherwise a plain line every ``every_s``."""

    def __init__(self, stream: TextIO | None = None, *, every_s: float = 10.0, verbose: bool = False) -> None:
        self.stream = stream or sys.stderr
        self.every_s = 0.0 if verbose else every_s
        self._live = self.stream.isatty()
        self._bar: Any = None
        self._task: Any = None
        self._last = 0.0

    def start(self, quota: Any) -> None:
        if not self._live:
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
        from rich.progress import Progress as Bar

        self._bar = Bar(
            TextColumn("[bold]accepted"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            TextColumn("{task.fields[info]}"), console=Console(file=self.stream), transient=False,
        )
        self._bar.start()
        self._task = self._bar.add_task("run", total=quota.target_total, completed=quota.accepted_total, info="")

    def update(self, quota: Any, ledger: Any, candidates: int) -> None:
        line = status_line(quota, ledger, candidates)
        if self._bar is not None:
            self._bar.update(self._task, completed=quota.accepted_total, info=line.split("| ", 1)[-1])
            return
        now = time.monotonic()
        if now - self._last >= self.every_s:
            self._last = now
            print(f"synthgen: {line}", file=self.stream, flush=True)

    def message(self, text: str) -> None:
        from synthgen.errors import redact

        text = redact(text)  # a resume command or an engine's message can carry a URL's credentials
        if self._bar is not None:
            self._bar.console.print(text)
        else:
            print(f"synthgen: {text}", file=self.stream, flush=True)

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


def summary_rows(summary: dict[str, Any]) -> list[tuple[str, str]]:
    """The end-of-run table as (label, value) rows; run.json keeps the same numbers."""
    ledger = summary["ledger"]
    rows = [("status", summary["status"]), ("accepted", f"{summary['accepted']} of {summary['target']}")]
    rows += [(f"rejected: {r}", str(n)) for r, n in sorted(summary["rejected"].items())]
    rows.append(("rejected (total)", str(sum(summary["rejected"].values()))))
    rows += [(f"failed: {r}", str(n)) for r, n in sorted(summary["failed"].items())]
    rows.append(("failed (total)", str(sum(summary["failed"].values()))))
    repair = summary.get("repair")
    if repair:
        rounds = ", ".join(f"{n} after {k}" for k, n in repair.get("rounds", {}).items())
        rows.append(("repaired ok", f"{repair['repaired_ok']}" + (f" ({rounds})" if rounds else "")))
        rows.append(("repair failed", str(repair["repair_failed"])))
        rows.append(("repair requests", str(repair["requests"])))
    rows += [
        ("candidates generated", str(summary["candidates"])),
        ("tokens (prompt / completion)", f"{ledger['prompt_tokens']:,} / {ledger['completion_tokens']:,}"),
        ("engine seconds", f"{ledger['engine_seconds']:.1f}"),
        ("prefix-cache hit rate", _share(summary.get("prefix_cache_hit_rate"))),
        ("GPU-hours", f"{ledger['gpu_seconds'] / 3600:.4f}"),
        ("USD", f"{ledger['usd']:.4f}"),
    ]
    per = summary.get("usd_per_accepted")
    rows.append(("USD per accepted example", f"{per:.6f}" if per is not None else "-"))
    gpu_per = summary.get("gpu_seconds_per_accepted")
    rows.append(("GPU-seconds per accepted example", f"{gpu_per:.3f}" if gpu_per is not None else "-"))
    return rows


def _share(rate: float | None) -> str:
    return f"{rate:.1%} of prompt tokens" if rate is not None else "- (the engine does not report it)"


def print_summary(summary: dict[str, Any], stream: TextIO | None = None) -> None:
    from rich.console import Console
    from rich.table import Table

    stream = stream or sys.stdout
    table = Table(title=f"synthgen run {summary['run_id']} -> {summary['output']}", show_header=False)
    table.add_column("what")
    table.add_column("value", justify="right")
    for label, value in summary_rows(summary):
        table.add_row(label, value)
    Console(file=stream, width=max(80, Console(file=stream).width)).print(table)
