"""The page's sections from ``report.json``'s data: charts and tables, escaped on the way in
(``page.table`` and ``page.esc``)."""

from __future__ import annotations

from typing import Any

from synthgen.report import plots
from synthgen.report.page import Raw, chart, esc, percent, table

MAX_HEAT_ROWS = 40
MAX_HEAT_COLS = 20
TOP_FEATURES = 24
SIZE_CHARTS = ("nodes", "edges", "completion tokens", "prompt tokens", "target files", "plan steps")


def header(data: dict[str, Any]) -> str:
    run = data["run"]
    rows = [("run", run["run_id"]), ("folder", run["path"]), ("recipe", run["recipe"]), ("model", run["model"]),
            ("status", run["status"]), ("accepted", f"{run['accepted']:,} of {run['target']:,} targeted" if run["target"] else run["accepted"]),
            ("rejected / failed", f"{run['rejected']:,} / {run['failed']:,}")]
    nav = "".join(f'<a href="#{ident}">{label}</a>' for ident, label in
                  (("diversity", "Diversity"), ("quality", "Quality"), ("cost", "Cost"), ("errors", "Errors"), ("gallery", "Gallery")))
    return f"<h1>synthgen report: {esc(run['run_id'])}</h1>\n<nav>{nav}</nav>\n" + table(["", ""], rows, css_id="run-table")


def diversity(d: dict[str, Any]) -> str:
    parts = ['<h2 id="diversity">Diversity</h2>', _cells(d)]
    parts.append("<h3>Feature usage</h3>" + _features(d["features"]))
    sizes = [name for name in SIZE_CHARTS if name in d["sizes"]]
    if sizes:
        rows = [(name, s["count"], s["min"], s["median"], s["mean"], s["p90"], s["max"]) for name, s in
                ((n, d["sizes"][n]) for n in sizes)]
        charts = "".join(chart(plots.histogram({int(k): v for k, v in d["sizes"][name]["histogram"].items()}, name, name),
                               f"{name} histogram", f"size-{name.replace(' ', '-')}") for name in sizes)
        parts.append("<h3>Sizes</h3>" + table(["size", "records", "min", "median", "mean", "p90", "max"], rows,
                                               numeric=[False] + [True] * 6) + f'<div class="charts">{charts}</div>')
    parts.append("<h3>Text</h3>" + _text(d))
    parts.append("<h3>Nearest-neighbour similarity</h3>" + _near(d["nearest_neighbour"]))
    if d["unreadable"]:
        parts.append(table(["accepted records the recipe could not read back", "records"], d["unreadable"].items(),
                           numeric=[False, True]))
    return "\n".join(parts)


def _cells(d: dict[str, Any]) -> str:
    names = d["cell_names"]
    cells = {tuple(c["cell"]): c["accepted"] for c in d["cells"]}
    if not cells:
        return '<p class="muted">No accepted records.</p>'
    row_totals: dict[str, int] = {}
    col_totals: dict[str, int] = {}
    for cell, n in cells.items():
        r, c = cell[0], cell[-1] if len(cell) > 1 else "accepted"
        row_totals[r] = row_totals.get(r, 0) + n
        col_totals[c] = col_totals.get(c, 0) + n
    rows = sorted(row_totals, key=lambda r: (-row_totals[r], r))[:MAX_HEAT_ROWS]
    cols = sorted(col_totals, key=lambda c: (-col_totals[c], c))[:MAX_HEAT_COLS]
    grid = [[sum(n for cell, n in cells.items() if cell[0] == r and (cell[-1] if len(cell) > 1 else "accepted") == c)
             for c in cols] for r in rows]
    rname, cname = names[0], names[-1] if len(names) > 1 else "records"
    cut = ""
    if len(rows) < len(row_totals) or len(cols) < len(col_totals):
        cut = f'<p class="muted">Showing the largest {len(rows)} of {len(row_totals)} {esc(rname)} values and {len(cols)} of {len(col_totals)} {esc(cname)} values.</p>'
    uri = plots.heatmap(rows, cols, grid, f"accepted records per cell ({rname} x {cname})")
    body = [[r, *row, sum(row)] for r, row in zip(rows, grid)]
    counts = table([f"{rname} \\ {cname}", *cols, "total"], body, numeric=[False] + [True] * (len(cols) + 1), css_id="cell-table")
    return f"<h3>Cells</h3>{chart(uri, 'heat map of accepted records per cell', 'heatmap')}{cut}{counts}"


def _features(features: dict[str, dict[str, int]]) -> str:
    if not features:
        return '<p class="muted">The records carry no features.</p>'
    flat = [(f"{group}: {value}" if group != "uses" else value, n) for group, counter in features.items() for value, n in counter.items()]
    flat.sort(key=lambda kv: (-kv[1], kv[0]))
    top = flat[:TOP_FEATURES]
    uri = plots.bars([k for k, _ in top], [n for _, n in top], "feature usage (records)")
    rows = [(group, ", ".join(f"{v} {n:,}" for v, n in list(counter.items())[:12])) for group, counter in features.items()]
    return chart(uri, "feature usage", "features") + table(["feature", "values (records)"], rows, css_id="feature-table")


def _text(d: dict[str, Any]) -> str:
    rows = []
    for n, s in d["ngrams"].items():
        rows.append((f"distinct word {n}-grams", s["distinct"], s["total"], percent(s["ratio"]), "exact" if s["exact"] else "estimated (±0.4%)"))
    sh = d["shapes"]
    rows.append(("distinct graph shapes", sh["distinct"], sh["records_with_shape"], percent(sh["ratio"]), "exact" if sh["exact"] else "estimated (±0.4%)"))
    out = table(["measure", "distinct", "of", "distinct share", ""], rows, numeric=[False, True, True, True, False], css_id="text-table")
    comp = d["compression"]
    crow = [(f"{label} ({what})", c["bytes"], c["zlib_bytes"], c["ratio"]) for label, what, c in
            (("texts", "requests / prompts", comp["text"]), ("bodies", "DOT / files and tools", comp["body"]))]
    return out + table(["zlib over all accepted", "bytes", "compressed", "ratio (higher: more repetition)"], crow,
                       numeric=[False, True, True, True])


def _near(nn: dict[str, Any]) -> str:
    if not nn["sampled"]:
        return '<p class="muted">No accepted records.</p>'
    sampled = "all" if nn["sampled"] == nn["of"] else f"a seeded sample of {nn['sampled']:,} of the"
    text = (f"<p>Over {sampled} {nn['of']:,} accepted records: median nearest-neighbour similarity "
            f"{esc(nn['median'])}; {nn['below_threshold']:,} records have none at {nn['threshold']} or more; "
            f"{nn['at_least_0.8']:,} at 0.8 or more (the dedup step's near-duplicate line).</p>")
    uri = plots.similarity(nn["edges"], nn["counts"], nn["below_threshold"], nn["threshold"])
    return text + chart(uri, "nearest-neighbour similarity histogram", "similarity")


def quality(q: dict[str, Any]) -> str:
    f = q["funnel"]
    parts = ['<h2 id="quality">Quality</h2>', "<h3>Acceptance funnel</h3>"]
    parts.append(f"<p>{f['candidates']:,} candidates → {f['accepted']:,} accepted ({percent(f['acceptance'])}).</p>")
    if f["steps"]:
        steps = f["steps"]
        uri = plots.funnel([s["step"] for s in steps], [s["forwarded"] for s in steps], [s["total"] - s["forwarded"] for s in steps])
        parts.append(chart(uri, "acceptance funnel", "funnel"))
        rows = [(s["step"], s["total"], s["forwarded"], ", ".join(f"{r} {n:,}" for r, n in s["dropped"].items()) or "–") for s in steps]
        parts.append(table(["step", "in", "forwarded", "dropped by reason"], rows, numeric=[False, True, True, False], css_id="funnel-table"))
    j = q["judge"]
    parts.append("<h3>Judge</h3>")
    if j["enabled"]:
        drops = ", ".join(f"{r} {n:,}" for r, n in j["dropped"].items()) or "none"
        parts.append(f"<p>Judge {esc(j['model'])}: judged {j['judged']:,}, passed {j['passed']:,} ({percent(j['pass_rate'])}); dropped: {esc(drops)}. "
                     f"Accepted records' verdicts: {esc(', '.join(f'{v} {n:,}' for v, n in j['verdicts_of_accepted'].items()))}.</p>")
    else:
        parts.append('<p class="muted">No judge in this run (--validate-semantics was off).</p>')
    parts.append("<h3>Templates</h3>")
    rows = [(t["template"], t["candidates"], t["accepted"], percent(t["success_rate"]),
             ", ".join(f"{r} {n:,}" for r, n in t["dropped"].items()) or "–") for t in q["templates"]]
    parts.append(table(["template", "candidates", "accepted", "success", "dropped by reason"], rows,
                       numeric=[False, True, True, True, False], css_id="template-table"))
    return "\n".join(parts)


def cost(c: dict[str, Any]) -> str:
    rows = []
    for m in c["models"]:
        per = m["per_accepted"] or {}
        rows.append((m["model"], m["calls"], m["completions"], m["prompt_tokens"], m["completion_tokens"], m["gpu_seconds"], m["usd"],
                     per.get("tokens"), per.get("gpu_seconds"), per.get("usd")))
    t, per = c["total"], c["per_accepted"] or {}
    rows.append((Raw("<b>total (ledger)</b>"), "", t["completions"], t["prompt_tokens"], t["completion_tokens"], t["gpu_seconds"],
                 t["usd"], per.get("tokens"), per.get("gpu_seconds"), per.get("usd")))
    headers = ["model", "calls", "completions", "prompt tokens", "completion tokens", "GPU-s", "USD",
               "tokens / accepted", "GPU-s / accepted", "USD / accepted"]
    return ('<h2 id="cost">Cost</h2>' + f"<p>Per model from log.jsonl's engine calls (the judge's included); totals from run.json's "
            f"ledger; per accepted example over {c['accepted']:,} accepted records.</p>"
            + table(headers, rows, numeric=[False] + [True] * 9, css_id="cost-table"))


def errors(e: dict[str, Any]) -> str:
    parts = ['<h2 id="errors">Errors</h2>']
    if not e["failed"]:
        parts.append('<p class="muted">No failed prompts.</p>')
    for group in e["failed"]:
        parts.append(f'<h3>{esc(group["step"])} / <span class="reason">{esc(group["reason"])}</span>: {group["count"]:,}</h3>')
        for ex in group["examples"]:
            raw = f"<pre>{esc(ex['raw_text'])}</pre>" if ex["raw_text"] else '<p class="muted">(no text came back)</p>'
            parts.append(f"<p>{esc(ex['id'])} ({esc(ex['template'])}, finish {esc(ex['finish_reason'])}): {esc(ex['detail'])}</p>{raw}")
    if e["rejected"]:
        parts.append("<h3>Rejected by reason</h3>" + table(["step", "reason", "records"], [(r["step"], r["reason"], r["count"])
                                                                                          for r in e["rejected"]], numeric=[False, False, True]))
    return "\n".join(parts)
