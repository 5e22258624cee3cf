"""The jobs API against a real uvicorn on 127.0.0.1 starting real `synthgen generate`
processes (the fake engine): start, progress, events, records, report, export, cancel (exit
143, resumable), resume, a server restart mid-job, jobs queued behind one engine, bad requests
and the token."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import httpx
import pytest

from tests.serve.conftest import ROOT, Server, data_ids, wait_for

pytestmark = pytest.mark.slow

KEY = "sk-serve-test-0123456789abcdefghij"


def events(client: httpx.Client, job_id: str, headers: dict[str, str] | None = None) -> list[dict]:
    """Every server-sent event of the job until ``end``."""
    out, block = [], {}
    with client.stream("GET", f"/api/jobs/{job_id}/events", headers=headers or {}, timeout=120) as response:
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if not line:
                if block:
                    out.append(block)
                    if block.get("event") == "end":
                        return out
                block = {}
            elif not line.startswith(":"):
                key, _, value = line.partition(": ")
                block[key] = value
    return out


def test_a_job_runs_and_shows_progress_events_records_report_and_export(tmp_path, serve_env):
    srv = Server(tmp_path / "jobs", {**serve_env, "OPENAI_API_KEY": KEY}).start()
    try:
        c = srv.client()
        created = c.post("/api/jobs", json={"model": "fake", "count": 40, "batch_size": 4, "name": "first"})
        assert created.status_code == 201, created.text
        job = created.json()
        assert job["status"] in ("queued", "running") and job["count"] == 40
        seen = wait_for(c, job["id"], accepted_at_least=4)
        if seen["status"] == "running":  # mid-run: part of the target, cells and spend present
            assert 0 < seen["progress"]["accepted"] <= 40 and seen["progress"]["live"]
        stream = events(c, job["id"])
        names = [e.get("event") for e in stream]
        assert names[0] == "start" and "batch" in names and "engine_call" in names and names[-2:] == ["stop", "end"]
        ids = [int(e["id"]) for e in stream if "id" in e]
        assert ids == list(range(1, len(ids) + 1))
        assert json.loads(stream[-1]["data"])["status"] == "completed"
        again = events(c, job["id"], headers={"Last-Event-ID": str(ids[-3])})  # a reconnect gets what came after
        assert [int(e["id"]) for e in again if "id" in e] == ids[-2:]

        done = c.get(f"/api/jobs/{job['id']}").json()
        p = done["progress"]
        assert done["status"] == "completed" and done["exit_code"] == 0 and not done["resumable"]
        assert p["accepted"] == 40 == sum(cell["accepted"] for cell in p["cells"]) == p["funnel"]["accepted"]
        assert all(cell["accepted"] == cell["target"] for cell in p["cells"]) and p["eta_s"] == 0.0
        assert p["tokens_per_s"] > 0 and p["acceptance"] == 1.0 and p["ledger"]["completion_tokens"] > 0
        assert c.get("/api/jobs", params={"status": "completed"}).json()["total"] == 1

        first = c.get(f"/api/jobs/{job['id']}/records", params={"limit": 15}).json()
        second = c.get(f"/api/jobs/{job['id']}/records", params={"limit": 30, "offset": 15}).json()
        assert first["next_offset"] == 15 and second["next_offset"] is None and len(second["records"]) == 25
        got = [r["id"] for r in first["records"] + second["records"]]
        assert got == data_ids(srv.jobs / "runs" / "first")
        one = c.get(f"/api/jobs/{job['id']}/records/accepted/3").json()
        assert one["record"]["id"] == got[3] and one["preview_html"].startswith('<img class="graph"')
        assert c.get(f"/api/jobs/{job['id']}/records/accepted/40").status_code == 404

        report = c.get(f"/api/jobs/{job['id']}/report")
        assert report.status_code == 200 and "synthgen report" in report.text
        assert "script-src" not in report.headers["content-security-policy"]
        exported = c.post(f"/api/jobs/{job['id']}/export", json={"format": "nemo", "val_fraction": 0.25}).json()
        names = {f["name"]: f["url"] for f in exported["files"]}
        assert {"train.jsonl", "val.jsonl", "metadata.json"} <= set(names)
        train = c.get(names["train.jsonl"]).text.splitlines()
        val = c.get(names["val.jsonl"]).text.splitlines()
        assert len(train) + len(val) == 40 and len(val) == 10
        assert c.get(f"/api/jobs/{job['id']}/export/nemo/../../jobs.db").status_code == 404

        schema = c.get("/openapi.json").json()
        assert {"/api/jobs", "/api/jobs/{job_id}", "/api/jobs/{job_id}/events", "/api/jobs/{job_id}/cancel",
                "/api/jobs/{job_id}/resume", "/api/jobs/{job_id}/records", "/api/jobs/{job_id}/report"} <= set(schema["paths"])
        assert "target_examples" in schema["components"]["schemas"]["JobRequest"]["properties"]
        # the server's key reaches the job's process (its environment) and nothing the service writes or answers
        listing = c.get("/api/jobs").text
        assert KEY not in listing
    finally:
        srv.stop()
    for path in srv.jobs.rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path
    assert KEY not in srv.output()


def test_cancel_keeps_the_batch_and_resume_ends_with_exactly_the_count(server):
    c = server.client()
    job = c.post("/api/jobs", json={"model": "fake", "count": 60, "batch_size": 4, "name": "cancel-me"}).json()
    wait_for(c, job["id"], accepted_at_least=8)
    cancelled = c.post(f"/api/jobs/{job['id']}/cancel")
    assert cancelled.status_code == 202 and cancelled.json()["cancel_requested"]
    stopped = wait_for(c, job["id"])
    assert stopped["status"] == "cancelled" and stopped["exit_code"] == 143 and stopped["resumable"]
    assert stopped["progress"]["run_status"] == "interrupted"
    kept = len(data_ids(server.jobs / "runs" / "cancel-me"))
    assert 8 <= kept < 60 and kept == stopped["progress"]["accepted"]
    assert c.post(f"/api/jobs/{job['id']}/cancel").status_code == 409
    resumed = c.post(f"/api/jobs/{job['id']}/resume")
    assert resumed.status_code == 202 and "--resume" in resumed.json()["command"]
    done = wait_for(c, job["id"])
    assert done["status"] == "completed" and done["runs"] == 2
    ids = data_ids(server.jobs / "runs" / "cancel-me")
    assert len(ids) == 60 == len(set(ids))
    assert c.post(f"/api/jobs/{job['id']}/resume").status_code == 409


def _pid_of(server: Server, job_id: str) -> int:
    db = sqlite3.connect(server.jobs / "jobs.db")
    try:
        return db.execute("SELECT pid FROM jobs WHERE id = ?", (job_id,)).fetchone()[0]
    finally:
        db.close()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize("how", ["sigterm", "sigkill-both", "sigkill-server"])
def test_a_server_restart_mid_job(tmp_path, serve_env, how):
    """SIGTERM: the server stops its jobs (the batch in flight kept) and the next lists them
    stopped. SIGKILL of server and job: the next marks the dead job stopped. SIGKILL of the
    server alone: the next adopts the live process. Each job then ends with exactly its count."""
    jobs = tmp_path / "jobs"
    first = Server(jobs, serve_env).start()
    c = first.client()
    job = c.post("/api/jobs", json={"model": "fake", "count": 60, "batch_size": 4, "name": "restart"}).json()
    wait_for(c, job["id"], accepted_at_least=8)
    pid = _pid_of(first, job["id"])
    if how == "sigterm":
        import threading

        followed: list[list[dict]] = []
        follower = threading.Thread(target=lambda: followed.append(events(first.client(), job["id"])), daemon=True)
        follower.start()
        time.sleep(0.5)
        t = time.monotonic()
        assert first.stop(signal.SIGTERM) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal once it has shut down
        assert time.monotonic() - t < 30  # an open event stream does not hold the shutdown
        follower.join(timeout=10)
        assert followed and followed[0][-1]["event"] == "end"
        assert not _alive(pid)
    else:
        first.stop(signal.SIGKILL)
        if how == "sigkill-both":
            os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 10
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
    second = Server(jobs, serve_env).start()
    try:
        c = second.client()
        found = c.get(f"/api/jobs/{job['id']}").json()
        if how == "sigkill-server":
            assert found["status"] in ("running", "completed")  # adopted: it goes on
        else:
            assert found["status"] == "stopped" and found["resumable"]
            why = "the server stopped it" if how == "sigterm" else "its process ended while the server was down"
            assert found["error"] == why
            assert c.post(f"/api/jobs/{job['id']}/resume").status_code == 202
        done = wait_for(c, job["id"])
        assert done["status"] == "completed", done
        ids = data_ids(jobs / "runs" / "restart")
        assert len(ids) == 60 == len(set(ids))
    finally:
        second.stop()


def test_two_jobs_queue_behind_one_engine(server):
    c = server.client()
    a = c.post("/api/jobs", json={"model": "fake", "count": 24, "batch_size": 4}).json()
    b = c.post("/api/jobs", json={"model": "fake", "count": 24, "batch_size": 4}).json()
    assert b["status"] == "queued"
    both_ran = False
    states = set()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        now = {j["id"]: j["status"] for j in c.get("/api/jobs").json()["jobs"]}
        states.add((now[a["id"]], now[b["id"]]))
        both_ran |= now[a["id"]] == now[b["id"]] == "running"
        if now[a["id"]] == now[b["id"]] == "completed":
            break
        time.sleep(0.05)
    assert not both_ran and ("running", "queued") in states and ("completed", "completed") in states
    assert c.get("/api/jobs", params={"status": "queued"}).json()["total"] == 0


def test_bad_requests_are_4xx_with_one_line(server):
    c = server.client()
    cases = [
        (c.post("/api/jobs", json={"recipe": "nope"}), 422, "unknown recipe 'nope'"),
        (c.post("/api/jobs", json={"model": "fake", "count": -5}), 422, "count: Input should be greater than or equal to 1"),
        (c.post("/api/jobs", json={"model": "fake", "name": "../../etc"}), 422, "name '../../etc'"),
        (c.post("/api/jobs", json={"model": "fake", "recipe_options": {"templates": "/etc"}}), 422, "names a file"),
        (c.post("/api/jobs", content=b"{" * 10_000_000, headers={"content-type": "application/json"}), 413, "over 65,536 bytes"),
        (c.post("/api/jobs", content=b"not json", headers={"content-type": "application/json"}), 422, "JSON"),
        (c.post("/api/jobs", json=[1, 2]), 422, "body"),
        (c.get("/api/jobs/nope"), 404, "no job 'nope'"),
        (c.get("/api/jobs", params={"status": "bogus"}), 422, "status: one of"),
        (c.get("/api/jobs/nope/records", params={"kind": "all"}), 422, "kind"),
        (c.get("/api/nothing"), 404, "Not Found"),
    ]
    for response, status, says in cases:
        body = response.json()
        assert response.status_code == status, (says, response.text)
        assert says in body["error"] and "\n" not in body["error"], (says, body)
    # a streamed body without a length is cut at the same bound
    chunks = (b"x" * 65_536 for _ in range(160))
    assert c.post("/api/jobs", content=chunks, headers={"content-type": "application/json"}).status_code == 413
    assert c.get("/api/jobs").json()["total"] == 0


def test_a_token_guards_every_api_call_on_a_non_loopback_bind(tmp_path, serve_env):
    refused = subprocess.run([sys.executable, "-m", "synthgen", "serve", "--jobs-dir", str(tmp_path / "j0"), "--host", "0.0.0.0"],
                             env=serve_env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1 and "give --token" in refused.stderr
    token = "t0ken-for-the-serve-test-123456"
    srv = Server(tmp_path / "jobs", serve_env, host="0.0.0.0", token=token).start()
    try:
        bare = httpx.Client(base_url=srv.url, timeout=30)
        missing = bare.get("/api/jobs")
        wrong = bare.get("/api/jobs", headers={"Authorization": "Bearer " + token[:-1] + "x"})
        assert missing.status_code == wrong.status_code == 401
        assert missing.json()["error"].startswith("a token is required") and wrong.json()["error"] == "the token is wrong"
        assert bare.post("/api/jobs", json={"model": "fake", "count": 2}).status_code == 401
        assert bare.get("/").status_code == 200  # the page holds no data; its calls carry the token
        good = srv.client()
        assert good.get("/api/jobs").status_code == 200
        job = good.post("/api/jobs", json={"model": "fake", "count": 4}).json()
        assert wait_for(good, job["id"])["status"] == "completed"
        assert token not in good.get(f"/api/jobs/{job['id']}").text
    finally:
        srv.stop()
    for path in srv.jobs.rglob("*"):
        if path.is_file():
            assert token.encode() not in path.read_bytes(), path


def test_rejected_and_failed_records_by_reason(tmp_path, serve_env):
    knobs = {"SYNTHGEN_FAKE_INVALID_RATE": "0.2", "SYNTHGEN_FAKE_GARBAGE_RATE": "0.1", "SYNTHGEN_FAKE_DELAY_S": "0"}
    srv = Server(tmp_path / "jobs", {**serve_env, **knobs}).start()
    try:
        c = srv.client()
        job = c.post("/api/jobs", json={"model": "fake", "count": 40, "name": "defects"}).json()
        done = wait_for(c, job["id"])
        funnel = done["progress"]["funnel"]
        assert done["status"] == "completed" and funnel["rejected"].get("grammar") and funnel["failed"].get("malformed_output")
        for kind, reason in (("rejected", "grammar"), ("failed", "malformed_output")):
            page = c.get(f"/api/jobs/{job['id']}/records", params={"kind": kind, "reason": reason, "limit": 100}).json()
            side = funnel[kind]
            assert len(page["records"]) == side[reason] and {r["reason"] for r in page["records"]} == {reason}
            assert page["funnel"] == funnel
        assert c.get(f"/api/jobs/{job['id']}/records", params={"kind": "rejected", "reason": "nothing"}).json()["records"] == []
        one = c.get(f"/api/jobs/{job['id']}/records/failed/0").json()
        assert one["record"]["reason"] in funnel["failed"]
    finally:
        srv.stop()
