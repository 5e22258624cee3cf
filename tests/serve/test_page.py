"""The jobs page in a real browser (Debian's chromium, driven by Playwright) against a real
server: start a job from the form, watch it finish, open a record with its graph drawn, open
the report, cancel another job. No console error, no dialog, no request but to 127.0.0.1, and
a record carrying markup in its request shows it as text and runs nothing. Screenshots go to
``$SYNTHGEN_SCREENSHOTS`` (default: the test's tmp folder)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import urlparse

import pytest

from tests.serve.conftest import Server

pytestmark = [pytest.mark.slow, pytest.mark.graphviz]

HOSTILE = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'


def test_the_page_starts_watches_opens_and_cancels_jobs(tmp_path, serve_env, browser, require_graphviz):
    shots = Path(os.environ.get("SYNTHGEN_SCREENSHOTS") or tmp_path / "shots")
    shots.mkdir(parents=True, exist_ok=True)
    srv = Server(tmp_path / "jobs", serve_env).start()
    errors: list[str] = []
    dialogs: list[str] = []
    elsewhere: list[str] = []
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

    def check_request(request):
        url = urlparse(request.url)
        if url.scheme not in ("data", "blob", "about") and url.hostname != "127.0.0.1":
            elsewhere.append(request.url)

    page.on("request", check_request)
    try:
        page.goto(srv.url + "/")
        page.wait_for_selector("#f-model option[value=fake]", state="attached")
        page.select_option("#f-model", "fake")
        page.fill("#f-count", "24")
        page.fill("#f-batch_size", "4")
        page.fill("#f-name", "from-the-form")
        page.click("#start")
        page.wait_for_function("() => location.hash.startsWith('#/jobs/') || document.querySelector('#form-error').textContent")
        assert page.inner_text("#form-error") == ""
        job_id = page.url.rsplit("/", 1)[-1]
        page.wait_for_function("() => document.querySelector('#job-status').textContent === 'completed'", timeout=90_000)
        page.wait_for_function("() => document.querySelector('#log').textContent.includes('job completed')", timeout=30_000)
        assert "24 of 24" in page.inner_text("#job-facts")
        assert page.locator("#cells tbody tr").count() > 1
        page.screenshot(path=str(shots / "job-completed.png"), full_page=True)

        # a record carrying markup: shown as text, nothing runs
        run = srv.jobs / "runs" / "from-the-form"
        records = [json.loads(line) for line in (run / "data.jsonl").read_text().splitlines()]
        records[0]["request"] = HOSTILE
        (run / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
        page.click(".tab[data-kind=accepted]")
        page.wait_for_function("() => document.querySelector('#records tbody tr td:nth-child(3)').textContent.includes('<script>')")
        page.click("#records tbody tr[data-index='0']")
        page.wait_for_selector("#record:not([hidden])")
        assert json.dumps(HOSTILE) in page.inner_text("#record-json")  # as JSON text
        graph = page.frame_locator("#record-preview").locator("img.graph")
        graph.wait_for()
        assert graph.evaluate("img => img.complete && img.naturalWidth > 0")
        assert page.evaluate("window.__pwned") is None
        page.screenshot(path=str(shots / "record.png"), full_page=True)

        page.click("#open-report")
        report = page.frame_locator("#report")
        report.locator("h1").wait_for(timeout=120_000)
        assert "synthgen report" in report.locator("h1").inner_text()

        # another job, cancelled from the page while it runs
        page.goto(srv.url + "/#/")
        page.wait_for_selector("#f-model option[value=fake]", state="attached")
        page.select_option("#f-model", "fake")
        page.fill("#f-count", "400")
        page.fill("#f-batch_size", "4")
        assert page.input_value("#f-name") == ""
        page.click("#start")
        page.wait_for_function("() => location.hash !== '#/' || document.querySelector('#form-error').textContent")
        assert page.inner_text("#form-error") == ""
        page.wait_for_function("() => document.querySelector('#job-status').textContent === 'running'", timeout=60_000)
        page.wait_for_function("() => document.querySelector('#log').textContent.includes(' batch ')", timeout=60_000)
        page.click("#cancel")
        page.wait_for_function("() => document.querySelector('#job-status').textContent === 'cancelled'", timeout=60_000)
        assert not page.is_disabled("#resume")
        page.screenshot(path=str(shots / "job-cancelled.png"), full_page=True)
        page.goto(srv.url + "/#/")
        page.wait_for_selector(f"#jobs tr[data-job='{job_id}']")
        page.screenshot(path=str(shots / "jobs.png"), full_page=True)
    finally:
        page.close()
        srv.stop()
    assert errors == [] and dialogs == [] and elsewhere == []
