"""``synthgen compare RUN_A RUN_B [...]``: the same plan run with different models, side by
side: ``compare.json``, one self-contained ``compare.html`` and the rows the terminal prints.

Runs are opened read-only (``open_run``) and measured with the report's own pass
(``figures.run_figures``); with a judge model, every run's accepted records are re-judged
by that one model (``judge.rejudge``) and its cost is counted per run. Runs of different
recipes are refused; plans that differ (seed, count, recipe version or options, template
versions) are compared, with a warning that says what differs.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from synthgen.errors import ConfigError, OutputError
from synthgen.runfolder.reader import open_run

COMPARE_VERSION = 1
PLAN_NAMES = {"seed": "seed", "count": "count", "recipe_fingerprint": "recipe version and options", "temperature": "temperature"}


def compare(runs: list[str | os.PathLike[str]], out: str | os.PathLike[str], *, judge: Any = None,
            judge_sample: int | None = None, judge_overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Measure the runs, judge them with ``judge`` (a model spec) when given, write the files."""
    from synthgen.compare.figures import run_figures
    from synthgen.recipes import recipe_class

    if len(runs) < 2:
        raise OutputError("synthgen compare needs two or more run folders", hint="synthgen compare RUN_A RUN_B [...]")
    if judge_sample is not None and judge_sample < 1:
        raise OutputError(f"--judge-sample must be at least 1, got {judge_sample}")
    views = [open_run(run) for run in runs]
    seen: dict[Path, Path] = {}
    for view in views:
        real = view.path.resolve()
        if real in seen:
            raise OutputError(f"{view.path} is given twice", hint="compare different run folders")
        seen[real] = view.path
    recipes = sorted({view.recipe for view in views})
    if len(recipes) > 1:
        raise OutputError(f"the runs are of different recipes ({', '.join(recipes)}): their figures don't compare",
                          hint="compare runs of one recipe")
    cls = recipe_class(views[0].recipe_ref)
    if judge is not None and not cls.judges_records():
        raise ConfigError(f"recipe {views[0].recipe!r} has no judge question for its records", hint="leave out --judge")
    runs_data = [run_figures(view, cls) for view in views]
    warnings = plan_warnings(runs_data)
    notes = [f"{r['path']}: {note}" for r in runs_data for note in r.pop("notes")]
    common = None
    if judge is not None:
        from synthgen.compare.judge import rejudge

        common = rejudge(views, cls, judge, sample=judge_sample, overrides=judge_overrides)
        for run, verdict in zip(runs_data, common):
            run["common_judge"] = verdict
        generators = {r["model"] for r in runs_data}
        if judge.alias in generators:
            warnings.append(f"the common judge {judge.alias} also generated one of the runs: its pass rates may favour its own outputs")
    data = {"compare_version": COMPARE_VERSION, "recipe": recipes[0], "runs": runs_data, "warnings": warnings, "notes": notes,
            "judge": None if judge is None else {"model": judge.alias, "sample": judge_sample}}
    target = Path(out).expanduser()
    from synthgen.compare.page import page
    from synthgen.report.build import write_files

    write_files(target, {"compare.json": json.dumps(data, indent=2, ensure_ascii=False) + "\n", "compare.html": page(data)})
    return {"data": data, "json": str(target / "compare.json"), "html": str(target / "compare.html")}


def plan_warnings(runs: list[dict[str, Any]]) -> list[str]:
    """What differs between the runs' plans, the model aside: one line per difference."""
    out = []
    keys = sorted({k for r in runs for k in r["plan"]})
    for key in keys:
        values = [r["plan"].get(key) for r in runs]
        if any(v != values[0] for v in values[1:]):
            name = PLAN_NAMES.get(key, key.replace("_", " "))
            shown = ", ".join(f"{_label(i)}: {_short(v)}" for i, v in enumerate(values))
            out.append(f"the plans differ in {name} ({shown}): differences in the figures are not the models' alone")
    versions = [r["template_versions"] for r in runs]
    if any(set(v) != set(versions[0]) for v in versions[1:]):
        shown = ", ".join(f"{_label(i)}: {'/'.join(v) or '-'}" for i, v in enumerate(versions))
        out.append(f"the runs used different template versions ({shown})")
    for i, r in enumerate(runs):
        if r["live"]:
            out.append(f"{_label(i)} ({r['path']}) is still being written: its figures cover the records written so far")
        elif r["status"] != "completed":
            out.append(f"{_label(i)} ({r['path']}) did not complete (status {r['status']}): its figures cover what it holds")
        if not r["accepted"]:
            out.append(f"{_label(i)} ({r['path']}) holds no accepted records")
    return out


def _label(i: int) -> str:
    return chr(ord("A") + i) if i < 26 else f"#{i + 1}"


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True) if not isinstance(value, str) else value
    return text if len(text) <= 40 else text[:39] + "…"


def rows(data: dict[str, Any]) -> list[tuple[str, list[str]]]:
    """The side-by-side table: a label and one cell per run, as text (terminal and page)."""
    runs = data["runs"]
    out: list[tuple[str, list[str]]] = []

    def row(label: str, cells: list[Any]) -> None:
        out.append((label, [_cell(c) for c in cells]))

    row("folder", [r["path"] for r in runs])
    row("model", [r["model"] for r in runs])
    row("status", [r["status"] + (" (live)" if r["live"] else "") for r in runs])
    row("accepted / target", [f"{r['accepted']:,} / {r['target']:,}" for r in runs])
    row("candidates", [r["candidates"] for r in runs])
    row("acceptance", [_pct(r["acceptance"]) for r in runs])
    row("valid before dedup", [_pct(r["validity_before_dedup"]) for r in runs])
    reasons = sorted({k for r in runs for k in r["drops"]}, key=lambda k: (-sum(r["drops"].get(k, 0) for r in runs), k))
    for reason in reasons:
        row(f"  dropped: {reason}", [r["drops"].get(reason, 0) for r in runs])
    row("cells filled", [r["diversity"]["cells_filled"] for r in runs])
    if any(r["diversity"]["records_with_shape"] for r in runs):
        row("distinct graph shapes", [f"{r['diversity']['distinct_shapes'] or 0:,} of {r['diversity']['records_with_shape'] or 0:,}" for r in runs])
    for n in ("1", "2", "3"):
        row(f"distinct {n}-grams (share)", [f"{r['diversity']['distinct_ngram_counts'][n] or 0:,} ({_ratio(r['diversity']['distinct_ngrams'][n])})"
                                             for r in runs])
    row("text compression ratio (lower: more varied)", [_ratio(r["diversity"]["compression_text"]) for r in runs])
    row("near-duplicates (MinHash >= 0.8)", [_pct(r["diversity"]["near_duplicate_share"]) for r in runs])
    if any(r["judge"]["enabled"] for r in runs):
        row("own judge pass rate", [f"{_pct(r['judge']['pass_rate'])} ({r['judge']['model']})" if r["judge"]["enabled"] else "-"
                                    for r in runs])
    if data.get("judge"):
        model = data["judge"]["model"]
        row(f"common judge pass rate ({model})", [_judged(r["common_judge"]) for r in runs])
        row("  common judge tokens", [_tokens(r["common_judge"]["cost"]) for r in runs])
        row("  common judge engine-seconds", [_ratio(r["common_judge"]["cost"]["engine_seconds"], 1) for r in runs])
        row("  common judge GPU-seconds", [_ratio(r["common_judge"]["cost"]["gpu_seconds"], 3) for r in runs])
        row("  common judge USD", [_usd(r["common_judge"]["cost"]["usd"]) for r in runs])
    row("tokens per accepted", [_per(r, "tokens", 1) for r in runs])
    row("GPU-seconds per accepted", [_per(r, "gpu_seconds", 3) for r in runs])
    row("USD per accepted", [_per_usd(r) for r in runs])
    row("GPU-seconds (total)", [_ratio(r["cost"]["total"]["gpu_seconds"], 1) for r in runs])
    row("USD (total)", [_usd(r["cost"]["total"]["usd"]) for r in runs])
    row("wall time", [_duration(r["wall_s"]) for r in runs])
    return out


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _ratio(value: Any, places: int = 3) -> str:
    return "-" if not isinstance(value, int | float) else f"{value:,.{places}f}"


def _usd(value: Any) -> str:
    return "-" if not isinstance(value, int | float) else f"${value:,.4f}"


def _tokens(ledger: dict[str, Any]) -> str:
    return f"{int(ledger.get('prompt_tokens', 0)) + int(ledger.get('completion_tokens', 0)):,}"


def _per(run: dict[str, Any], key: str, places: int) -> str:
    per = run["cost"]["per_accepted"]
    return "-" if not per else _ratio(per[key], places)


def _per_usd(run: dict[str, Any]) -> str:
    per = run["cost"]["per_accepted"]
    return "-" if not per else f"${per['usd']:,.6f}"


def _judged(verdict: dict[str, Any]) -> str:
    if not verdict["judged"]:
        return "- (nothing to judge)"
    counts = verdict["verdicts"]
    return f"{_pct(verdict['pass_rate'])} ({counts.get('yes', 0):,} yes of {verdict['judged']:,})"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes, s = divmod(seconds, 60)
    return f"{int(minutes)}m{s:04.1f}s" if minutes else f"{s:.1f}s"


def run_labels(data: dict[str, Any]) -> list[str]:
    return [f"{_label(i)}: {r['model'] or r['run_id']}" for i, r in enumerate(data["runs"])]
