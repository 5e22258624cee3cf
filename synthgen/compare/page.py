"""``compare.html``: the report's page kit (inline CSS, base64 SVG charts, no script, a CSP
that forbids every load) with the side-by-side table, the drop reasons and a chart.

Every string from a run (paths, model names, reason codes) is escaped by ``page.table`` /
``page.esc``; charts are matplotlib SVGs inside ``<img>``.
"""

from __future__ import annotations

from typing import Any

from synthgen.compare.build import rows, run_labels
from synthgen.report import plots
from synthgen.report.page import chart, document, esc, notes, table


def page(data: dict[str, Any]) -> str:
    labels = run_labels(data)
    body = [f"<h1>synthgen compare: {esc(data['recipe'])}, {len(data['runs'])} runs</h1>"]
    if data["warnings"]:
        body.append('<div class="notes" id="warnings">' + "".join(f"<p>{esc(w)}</p>" for w in data["warnings"]) + "</div>")
    body.append(notes(data["notes"]))
    body.append('<h2 id="figures">Side by side</h2>')
    body.append(table(["", *labels], [(label, *cells) for label, cells in rows(data)], css_id="compare-table"))
    body.append(_chart(data, labels))
    return document(f"synthgen compare ({', '.join(labels)})", "\n".join(part for part in body if part))


def _chart(data: dict[str, Any], labels: list[str]) -> str:
    measures = [("acceptance", lambda r: r["acceptance"]), ("valid before dedup", lambda r: r["validity_before_dedup"])]
    if any(r["judge"]["enabled"] for r in data["runs"]):
        measures.append(("own judge pass", lambda r: r["judge"]["pass_rate"]))
    if data.get("judge"):
        measures.append(("common judge pass", lambda r: r["common_judge"]["pass_rate"]))
    series = {label: [100 * (get(r) or 0.0) for _, get in measures] for label, r in zip(labels, data["runs"])}
    uri = plots.grouped_bars([name for name, _ in measures], series, "Rates per run", "% of candidates / judged")
    return "<h2 id=\"rates\">Rates</h2>" + chart(uri, "acceptance, validity and judge pass rates per run", "rates-chart")
