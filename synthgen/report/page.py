"""``report.html``: one self-contained page (inline CSS, charts as ``data:`` images, no script).

Every string that came from a run (records, counters' reason codes, model names, paths) goes
through ``esc`` (``html.escape`` with ``quote=True``) and only ever into element text: no
attribute, URL, style or script carries run data. Attributes hold only what this module
writes (class names, fixed ids) and the charts' ``data:`` URIs, which are base64. The
Content-Security-Policy forbids every load but ``data:`` images and the inline style sheet,
so even a mistake here could not reach the network.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from typing import Any

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#222;background:#fafafa}
main{max-width:1180px;margin:0 auto;padding:16px 24px 48px}
h1{font-size:22px;margin:8px 0 4px}h2{font-size:18px;margin:32px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
h3{font-size:15px;margin:18px 0 6px}
nav a{margin-right:14px}
table{border-collapse:collapse;margin:6px 0 12px;background:#fff;font-size:13px}
th,td{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.notes{background:#fff6d9;border:1px solid #e6cf7a;padding:8px 12px;margin:10px 0}
.muted{color:#666}.chart{max-width:100%;height:auto;display:block;margin:6px 0;background:#fff}
.charts{display:flex;flex-wrap:wrap;gap:10px}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(340px,1fr));gap:12px}
.card{background:#fff;border:1px solid #ddd;border-radius:6px;padding:10px;overflow:hidden}
.card h4{margin:0 0 6px;font-size:13px}.card .request{margin:0 0 8px}
.card img{max-width:100%;max-height:420px;display:block;margin:0 auto}
pre{white-space:pre-wrap;word-break:break-word;background:#f4f4f4;padding:6px;font-size:12px;max-height:320px;overflow:auto}
.reason{color:#a33;font-weight:600}
.task dl{display:grid;grid-template-columns:auto 1fr;gap:2px 8px;margin:6px 0}.task dt{color:#666}.task dd{margin:0}
"""


_NUM = ' class="n"'


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def number(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return esc(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return f"{int(value):,}"
        return f"{value:,.6g}" if abs(value) < 1 else f"{value:,.2f}"
    return esc(value)


def percent(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], *, numeric: Sequence[bool] | None = None,
          css_id: str | None = None) -> str:
    """A table; cells are escaped unless they are ``Raw`` (markup this package built)."""
    numeric = numeric or [False] * len(headers)
    head = "".join(f"<th{_NUM if n else ''}>{esc(h)}</th>" for h, n in zip(headers, numeric))
    body = []
    for row in rows:
        cells = "".join(f"<td{_NUM if n else ''}>{cell if isinstance(cell, Raw) else (number(cell) if n else esc(cell))}</td>"
                        for cell, n in zip(row, numeric))
        body.append(f"<tr>{cells}</tr>")
    ident = f' id="{css_id}"' if css_id else ""
    return f"<table{ident}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


class Raw(str):
    """Markup built here from escaped parts: ``table`` puts it in as it is."""


def chart(uri: str, alt: str, css_id: str | None = None) -> str:
    """An ``<img>`` of a chart; ``uri`` must be one of ``plots``' base64 data URIs."""
    if not uri.startswith("data:image/svg+xml;base64,"):
        raise ValueError("a chart must be a base64 SVG data URI")
    ident = f' id="{css_id}"' if css_id else ""
    return f'<img class="chart"{ident} alt="{esc(alt)}" src="{uri}">'


def document(title: str, body: str) -> str:
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        '<meta name="referrer" content="no-referrer">\n<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{esc(title)}</title>\n<style>{CSS}</style>\n</head><body><main>\n{body}\n</main></body></html>\n"
    )


def notes(lines: Sequence[str]) -> str:
    if not lines:
        return ""
    return '<div class="notes" id="notes">' + "".join(f"<p>{esc(line)}</p>" for line in lines) + "</div>"
