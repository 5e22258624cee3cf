"""The gallery: a seeded sample of accepted records, each through its recipe's
``preview_html`` beside its request, and a sample of rejected ones with their reason.

``preview_html`` returns markup the recipe escaped itself (nl2dot: its graph drawn by
Graphviz, as a base64 SVG ``<img>``); everything else on a card is escaped here.
"""

from __future__ import annotations

from typing import Any

from synthgen.report.page import esc

BODY_CHARS = 4000
_NO_PREVIEW = '<p class="muted">(this recipe draws no preview)</p>'


def _short(text: str, limit: int = BODY_CHARS) -> str:
    return text if len(text) <= limit else text[:limit] + f"\n… ({len(text) - limit:,} more characters)"


def accepted_cards(records: list[dict[str, Any]], cls: Any) -> str:
    if not records:
        return '<p class="muted">No accepted records.</p>'
    cards = []
    for record in sorted(records, key=lambda r: str(r.get("id"))):
        keys = cls.keys_of(record)
        cell = " / ".join(str(p) for p in cls.cell_of(record))
        try:
            preview = cls.preview_html(record)
        except Exception as exc:  # noqa: BLE001 - one record's picture never stops the report
            preview = f'<p class="muted">no preview: {esc(type(exc).__name__)}: {esc(exc)}</p>'
        cards.append(
            '<div class="card accepted">'
            f'<h4>{esc(record.get("id"))} <span class="muted">{esc(cell)}</span></h4>'
            f'<p class="request">{esc(keys.text)}</p>'
            f"{preview or _NO_PREVIEW}"
            f"<details><summary>source</summary><pre>{esc(_short(str(keys.body)))}</pre></details>"
            "</div>"
        )
    return '<div class="cards" id="gallery-accepted">' + "".join(cards) + "</div>"


def rejected_cards(records: list[dict[str, Any]]) -> str:
    if not records:
        return '<p class="muted">No rejected records.</p>'
    cards = []
    for record in sorted(records, key=lambda r: str(r.get("id"))):
        text = record.get("request") or record.get("prompt") or ""
        body = record.get("dot")
        if body is None:
            body = "\n".join(str(f) for f in record.get("target_files") or [])
        cards.append(
            '<div class="card rejected">'
            f'<h4>{esc(record.get("id"))} <span class="muted">{esc(record.get("template"))}</span></h4>'
            f'<p><span class="reason">{esc(record.get("step"))} / {esc(record.get("reason"))}</span>: {esc(record.get("detail"))}</p>'
            f'<p class="request">{esc(text)}</p>'
            f"<pre>{esc(_short(str(body)))}</pre>"
            "</div>"
        )
    return '<div class="cards" id="gallery-rejected">' + "".join(cards) + "</div>"


def gallery(accepted: list[dict[str, Any]], rejected: list[dict[str, Any]], cls: Any, seen: tuple[int, int]) -> str:
    return ('<h2 id="gallery">Gallery</h2>'
            f"<h3>Accepted: {len(accepted):,} of {seen[0]:,}, a seeded sample</h3>" + accepted_cards(accepted, cls)
            + f"<h3>Rejected: {len(rejected):,} of {seen[1]:,}, a seeded sample</h3>" + rejected_cards(rejected))
