"""The report's charts: matplotlib (its object API, no pyplot, no global backend), saved as
SVG and handed back as ``data:image/svg+xml;base64`` URIs for ``<img>``.

An SVG in an ``<img>`` can neither run a script nor load anything, so labels taken from
records (cell names, features) cannot reach the page as markup. The SVG itself names no
font file (``svg.fonttype: none``: text stays text, in a generic family), carries no metadata
(no creator URL, no date) and uses a fixed hash salt, so the same run gives the same bytes.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from typing import Any

STYLE = {"svg.fonttype": "none", "svg.hashsalt": "synthgen-report", "text.parse_math": False, "font.family": "sans-serif",
         "font.size": 9, "axes.spines.top": False, "axes.spines.right": False}
BLUE, RED, GREY = "#3a6ea5", "#c0504d", "#888888"
LABEL_CHARS = 36


def _label(text: Any) -> str:
    text = str(text)
    return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1] + "…"


def _figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _uri(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="svg", metadata={"Creator": None, "Date": None, "Format": None, "Type": None})
    return "data:image/svg+xml;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _styled(draw: Any) -> Any:
    import matplotlib

    def run(*args: Any, **kwargs: Any) -> str:
        with matplotlib.rc_context(STYLE):
            return draw(*args, **kwargs)

    run.__doc__ = draw.__doc__
    return run


@_styled
def heatmap(rows: Sequence[str], cols: Sequence[str], counts: Sequence[Sequence[int]], title: str) -> str:
    """Accepted records per cell: ``rows`` x ``cols``, each square annotated with its count."""
    fig = _figure(min(12.0, 2.5 + 0.9 * len(cols)), min(14.0, 1.4 + 0.32 * len(rows)))
    ax = fig.add_subplot()
    image = ax.imshow(counts, cmap="Blues", aspect="auto", vmin=0)
    ax.set_xticks(range(len(cols)), [_label(c) for c in cols], rotation=30 if len(cols) > 4 else 0, ha="right" if len(cols) > 4 else "center")
    ax.set_yticks(range(len(rows)), [_label(r) for r in rows])
    top = max((max(r) for r in counts if r), default=0)
    for i, row in enumerate(counts):
        for j, n in enumerate(row):
            ax.text(j, i, str(n), ha="center", va="center", fontsize=8, color="white" if top and n > 0.6 * top else "black")
    ax.set_title(title)
    fig.colorbar(image, ax=ax, shrink=0.8)
    return _uri(fig)


@_styled
def funnel(steps: Sequence[str], forwarded: Sequence[int], dropped: Sequence[int]) -> str:
    """Horizontal bars, first step on top: what each step forwarded, and what it dropped."""
    fig = _figure(7.5, 0.9 + 0.4 * len(steps))
    ax = fig.add_subplot()
    ys = range(len(steps))
    ax.barh(ys, forwarded, color=BLUE, label="forwarded")
    ax.barh(ys, dropped, left=forwarded, color=RED, label="dropped")
    ax.set_yticks(ys, [_label(s) for s in steps])
    ax.invert_yaxis()
    for y, (f, d) in enumerate(zip(forwarded, dropped)):
        ax.text(f + d, y, f"  {f:,}" + (f" (-{d:,})" if d else ""), va="center", fontsize=8)
    ax.set_xlim(0, max((f + d for f, d in zip(forwarded, dropped)), default=1) * 1.25 or 1)
    ax.set_xlabel("records")
    ax.legend(loc="lower right", frameon=False)
    return _uri(fig)


@_styled
def histogram(values: dict[int, int], title: str, xlabel: str, bins: int = 30) -> str:
    """A histogram from value -> count (a distribution kept without its records)."""
    fig = _figure(4.6, 2.6)
    ax = fig.add_subplot()
    xs, ws = list(values), list(values.values())
    low, high = (min(xs), max(xs)) if xs else (0, 0)
    edges: Any = [v - 0.5 for v in range(low, high + 2)] if high - low < bins else bins  # one bar per value when few
    ax.hist(xs, bins=edges, weights=ws, color=BLUE)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("records")
    return _uri(fig)


@_styled
def similarity(edges: Sequence[float], counts: Sequence[int], below: int, threshold: float) -> str:
    """Nearest-neighbour similarity: the buckets above the LSH threshold, and one bar for below it."""
    fig = _figure(6.0, 2.8)
    ax = fig.add_subplot()
    width = edges[1] - edges[0] if len(edges) > 1 else 0.05
    ax.bar([threshold - width], [below], width=width * 0.9, align="edge", color=GREY, label=f"below {threshold}")
    ax.bar(edges[:-1], counts, width=width * 0.9, align="edge", color=BLUE, label="nearest neighbour")
    ax.axvline(0.8, color=RED, linestyle="--", linewidth=1, label="dedup threshold 0.8")
    ax.set_xlabel("estimated Jaccard similarity to the nearest sampled record")
    ax.set_ylabel("records")
    ax.legend(frameon=False, fontsize=7)
    return _uri(fig)


@_styled
def bars(labels: Sequence[str], counts: Sequence[int], title: str) -> str:
    """Horizontal bars, largest on top (feature usage)."""
    fig = _figure(6.0, 0.8 + 0.22 * len(labels))
    ax = fig.add_subplot()
    ys = range(len(labels))
    ax.barh(ys, counts, color=BLUE)
    ax.set_yticks(ys, [_label(s) for s in labels])
    ax.invert_yaxis()
    ax.set_title(title)
    ax.set_xlabel("records")
    return _uri(fig)


@_styled
def grouped_bars(groups: Sequence[str], series: dict[str, Sequence[float]], title: str, ylabel: str) -> str:
    """Vertical bars: one group per measure, one bar per series in it (compare's runs)."""
    fig = _figure(min(12.0, 2.5 + 1.4 * len(groups)), 3.6)
    ax = fig.add_subplot()
    width = 0.8 / max(1, len(series))
    colours = (BLUE, RED, GREY, "#6a9f58", "#9467bd", "#e1a03a")
    for k, (name, values) in enumerate(series.items()):
        xs = [g + (k - (len(series) - 1) / 2) * width for g in range(len(groups))]
        ax.bar(xs, values, width=width, label=_label(name), color=colours[k % len(colours)])
    ax.set_xticks(range(len(groups)), [_label(g) for g in groups])
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    ax.legend(frameon=False, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=min(3, len(series)))
    return _uri(fig)
