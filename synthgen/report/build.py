"""``synthgen report RUN``: one pass over a run folder, then ``report.json`` and one
self-contained ``report.html``, in one call the CLI and tests share.

The run is opened read-only (``open_run``): a run still being written is reported as far as
its last whole line, and says so; a torn last line is skipped and counted. Both files are
written to temporary files beside their targets and renamed into place, so a failure
leaves the previous report (or none), never half of one.
"""

from __future__ import annotations

import importlib.util
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from synthgen.errors import ConfigError, OutputError
from synthgen.report import sections
from synthgen.report.collect import Collected, collect
from synthgen.runfolder.reader import RunView, open_run

REPORT_VERSION = 1
GALLERY_SAMPLE = 12
NEAR_SAMPLE = 5000  # records whose nearest-neighbour similarity is measured (a seeded sample past it)
SEED = 0


def report(run: str | os.PathLike[str], out: str | os.PathLike[str] | None = None, *, sample: int = GALLERY_SAMPLE,
           near_sample: int = NEAR_SAMPLE) -> dict[str, Any]:
    """Write the report; returns where it went and the notes (a live run, torn lines) for stderr."""
    from synthgen.recipes import recipe_class

    if sample < 0:
        raise OutputError(f"--sample must be 0 or more, got {sample}")
    if importlib.util.find_spec("matplotlib") is None:  # before the pass over the records, not after it
        raise ConfigError("synthgen report draws its charts with matplotlib, which is not installed",
                          hint="pip install 'synthgen[report]'")
    view = open_run(run)
    cls = recipe_class(view.recipe_ref)
    c = collect(view, cls, sample=sample, near_sample=near_sample, seed=SEED)
    if not (c.accepted or c.rejected or c.failed):
        state = "is still being written and holds" if view.live else "holds"
        raise OutputError(f"{view.path} {state} no records yet: nothing to report",
                          hint="report a run that generated candidates (synthgen generate --output ...)")
    data = build_data(view, cls, c)
    html_text = page(data, c, cls)
    target = Path(out).expanduser() if out is not None else view.path
    write_files(target, {"report.json": json.dumps(data, indent=2, ensure_ascii=False) + "\n", "report.html": html_text})
    return {"json": str(target / "report.json"), "html": str(target / "report.html"), "notes": data["notes"],
            "accepted": c.accepted, "rejected": c.rejected, "failed": c.failed}


def build_data(view: RunView, cls: Any, c: Collected) -> dict[str, Any]:
    from synthgen.report.diversity import nearest_similarities

    state = view.state
    notes: list[str] = []
    if view.live:
        notes.append(f"{view.path}: the run is still being written; this report covers the records written so far")
    if view.note:
        notes.append(f"{view.path}: {view.note}")
    for kind, n in sorted(view.torn.items()):
        notes.append(f"{view.path}: skipped {n} torn last line(s) of its {kind} records")
    if not c.accepted:
        notes.append("the run holds no accepted records yet")
    if c.unreadable:
        notes.append(f"{sum(c.unreadable.values())} accepted records could not be read back by recipe {view.recipe!r}")
    if c.near.seen > len(c.near.items):
        notes.append(f"nearest-neighbour similarity over a seeded sample of {len(c.near.items):,} of {c.near.seen:,} accepted records")
    cost, cost_notes = sections.cost(state, view.path, c.accepted)
    notes += cost_notes
    quota = state.get("quota") or {}
    fp = state.get("fingerprint") or {}
    return {
        "report_version": REPORT_VERSION,
        "run": {"path": str(view.path), "run_id": state.get("run_id"), "recipe": view.recipe, "status": view.status,
                "live": view.live, "model": fp.get("model"), "seed": fp.get("seed"), "accepted": c.accepted,
                "rejected": c.rejected, "failed": c.failed, "torn": dict(view.torn),
                "target": sum(int(v[1]) for v in quota.values() if isinstance(v, list) and len(v) == 2),
                "models_of_accepted": dict(c.models.most_common())},
        "notes": notes,
        "diversity": sections.diversity(c, tuple(cls.cell_names), nearest_similarities(c.near.items)),
        "quality": {"funnel": sections.funnel(state), "judge": sections.judge(state, c), "templates": sections.templates(c),
                    "quota": {label: {"accepted": v[0], "target": v[1]} for label, v in quota.items()
                              if isinstance(v, list) and len(v) == 2}},
        "cost": cost,
        "errors": sections.errors(c),
        "gallery": {"accepted": sorted(str(r.get("id")) for r in c.gallery.items),
                    "rejected": sorted(str(r.get("id")) for r in c.gallery_rejected.items), "seed": SEED},
    }


def page(data: dict[str, Any], c: Collected, cls: Any) -> str:
    from synthgen.report import render
    from synthgen.report.gallery import gallery
    from synthgen.report.page import document, notes

    body = [render.header(data), notes(data["notes"]), render.diversity(data["diversity"]), render.quality(data["quality"]),
            render.cost(data["cost"]), render.errors(data["errors"]),
            gallery(c.gallery.items, c.gallery_rejected.items, cls, (c.gallery.seen, c.gallery_rejected.seen))]
    return document(f"synthgen report {data['run']['run_id']}", "\n".join(body))


def write_files(folder: Path, files: dict[str, str]) -> None:
    """Every file to a temp file in ``folder`` first, then each renamed over its target."""
    temps: dict[str, str] = {}
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            fd, temp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)
            temps[name] = temp
            os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; a report is as readable as the run
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
        for name, temp in temps.items():
            os.replace(temp, folder / name)
    except OSError as exc:
        for temp in temps.values():
            try:
                os.unlink(temp)
            except OSError:
                pass
        raise OutputError(f"cannot write the report to {folder}: {exc.strerror or exc}") from None


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
