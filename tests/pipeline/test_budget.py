"""Ledger math, budgets and --dry-run estimates; the CLI's budget stop and dry run."""

from __future__ import annotations

import pytest

from synthgen.backends.base import Completion
from synthgen.errors import ConfigError
from synthgen.models import ModelSpec, Parallelism, Prices
from synthgen.pipeline.budget import Budget, Ledger, count_prompt_tokens, estimate

PRICES = Prices(input_per_1m=0.5, output_per_1m=2.0)


def _c(rid: str, p: int, c: int, index: int = 0) -> Completion:
    return Completion(request_id=rid, text="x", finish_reason="stop", prompt_tokens=p, completion_tokens=c, index=index)


# -- ledger -----------------------------------------------------------------------------------


def test_local_charge_is_wall_times_accelerators():
    ledger = Ledger()
    ledger.charge([_c("a", 100, 40), _c("b", 120, 60)], wall_s=30.0, accelerators=4, prices=None)
    ledger.charge([_c("c", 10, 5)], wall_s=15.0, accelerators=4, prices=None)
    assert (ledger.prompt_tokens, ledger.completion_tokens, ledger.calls) == (230, 105, 3)
    assert ledger.engine_seconds == 45.0
    assert ledger.gpu_seconds == 180.0 and ledger.gpu_hours == pytest.approx(0.05)
    assert ledger.usd == 0.0


def test_prefix_cache_hit_rate_counts_only_requests_whose_engine_reports_it():
    def cached(rid: str, p: int, hit: int | None, index: int = 0) -> Completion:
        c = _c(rid, p, 5, index)
        c.cached_tokens = hit
        return c

    ledger = Ledger()
    assert ledger.prefix_cache_hit_rate is None
    ledger.charge([cached("a", 100, None)], wall_s=1.0, accelerators=1, prices=None)  # transformers, fake: no report
    assert ledger.prefix_cache_hit_rate is None
    ledger.charge([cached("b", 1000, 0)], wall_s=1.0, accelerators=1, prices=None)  # reported: every token missed
    assert ledger.prefix_cache_hit_rate == 0.0
    # n=2 completions of one request: its prompt and its cache hits count once
    ledger.charge([cached("c", 1000, 900), cached("c", 0, 0, 1)], wall_s=1.0, accelerators=1, prices=None)
    assert ledger.prefix_cache_hit_rate == pytest.approx(900 / 2000)
    saved = Ledger.from_dict(ledger.to_dict())
    assert saved.prefix_cache_hit_rate == ledger.prefix_cache_hit_rate
    assert Ledger.from_dict({"prompt_tokens": 5}).prefix_cache_hit_rate is None  # a run.json from before


def test_api_charge_uses_per_million_prices_and_counts_a_prompt_once():
    ledger = Ledger()
    # one request with n=3 completions: the prompt is billed once, each completion's tokens add up
    ledger.charge([_c("a", 1000, 200, i) for i in range(3)], wall_s=2.0, accelerators=0, prices=PRICES)
    assert ledger.prompt_tokens == 1000 and ledger.completion_tokens == 600 and ledger.calls == 1
    assert ledger.gpu_seconds == 0.0
    assert ledger.usd == pytest.approx(1000 * 0.5e-6 + 600 * 2e-6)


def test_ledger_round_trips_through_run_json():
    ledger = Ledger()
    ledger.charge([_c("a", 7, 9)], wall_s=1.5, accelerators=2, prices=PRICES)
    again = Ledger.from_dict(ledger.to_dict())
    assert again == ledger
    assert Ledger.from_dict(None) == Ledger()
    assert Ledger.from_dict({"usd": 1.0, "from_a_newer_version": 3}).usd == 1.0
    assert "GPU-hours" in ledger.summary()


# -- budget -----------------------------------------------------------------------------------


def test_budget_exceeded_names_the_limit():
    ledger = Ledger(gpu_seconds=3600.0, usd=0.5)
    assert Budget().exceeded(ledger) is None
    assert Budget(max_gpu_hours=2).exceeded(ledger) is None
    reason = Budget(max_gpu_hours=1).exceeded(ledger)
    assert reason and "GPU" in reason and "--max-gpu-hours" in reason
    assert Budget(max_cost=1.0).exceeded(ledger) is None
    reason = Budget(max_cost=0.25).exceeded(ledger)
    assert reason and "$0.5000 of $0.25" in reason and "--max-cost" in reason


@pytest.mark.parametrize("kwargs", [{"max_gpu_hours": 0}, {"max_cost": -1.0}])
def test_budget_rejects_non_positive_limits(kwargs):
    with pytest.raises(ConfigError) as err:
        Budget(**kwargs)
    assert "must be positive" in err.value.one_line()


# -- estimate ---------------------------------------------------------------------------------


def test_local_estimate_from_throughput_and_parallelism():
    spec = ModelSpec(
        alias="big",
        backend="fake",
        parallelism=Parallelism(tensor=2, data=2),
        throughput_tokens_per_s=1000,
        throughput_source="measured on a test box",
    )
    est = estimate(n_requests=1000, prompt_tokens_each=300, max_tokens=1024, expected_completion_tokens=360, spec=spec)
    assert est.prompt_tokens == 300_000 and est.completion_tokens == 360_000
    assert est.completion_tokens_max == 1_024_000
    # 360k tokens at 1000 tok/s per replica, 2 replicas: 180 s wall; each replica holds 2 GPUs
    assert est.wall_hours == pytest.approx(180 / 3600)
    assert est.gpu_hours == pytest.approx(360 / 3600 * 2)
    assert est.usd == 0.0
    text = "\n".join(est.render())
    assert "GPU-hours: ~0.2000 expected" in text and "3 min" in text and "measured on a test box" in text


def test_estimate_says_unknown_without_a_throughput_figure():
    spec = ModelSpec(alias="nofig", backend="fake")
    est = estimate(10, 50, 256, 100, spec)
    assert est.gpu_hours is None
    assert any("GPU-hours: unknown" in line for line in est.render())


def test_api_estimate_costs_money_not_gpu_time():
    spec = ModelSpec(alias="api", backend="openai", provider="openai", api_model="m", prices=PRICES)
    est = estimate(n_requests=100, prompt_tokens_each=1000, max_tokens=500, expected_completion_tokens=800, spec=spec)
    assert est.completion_tokens == 100 * 500  # expected is capped by max_tokens
    assert est.usd == pytest.approx(100_000 * 0.5e-6 + 50_000 * 2e-6)
    lines = est.render()
    assert "GPU-hours: 0 (remote API)" in lines and lines[0].endswith("(remote API)")


def test_prompt_tokens_fall_back_to_chars_over_four():
    count = count_prompt_tokens(["abcd" * 10, "abc"])
    assert (count.total, count.method) == (11, "chars/4")
    assert count.per_prompt(2) == 5.5


@pytest.mark.slow
def test_prompt_tokens_with_a_local_tokenizer(tmp_path):
    tokenizers = pytest.importorskip("tokenizers")
    transformers = pytest.importorskip("transformers")
    vocab = {"[UNK]": 0, "draw": 1, "a": 2, "state": 3, "machine": 4}
    tok = tokenizers.Tokenizer(tokenizers.models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    transformers.PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]").save_pretrained(tmp_path)
    count = count_prompt_tokens(["draw a state machine", "draw a robot"], tokenizer_folder=tmp_path)
    assert count.total == 7 and count.method == f"tokenizer {tmp_path}"
    spec = ModelSpec(alias="local", backend="vllm", source={"path": str(tmp_path)})
    assert count_prompt_tokens(["draw a state machine"], spec).total == 4


# -- through the CLI (fake backend) -----------------------------------------------------------


@pytest.fixture(scope="module")
def fake_cli(tmp_path_factory):
    """Run ``python -m synthgen generate --model fake`` with a tmp model registry."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    models = tmp_path_factory.mktemp("models")
    (models / "fake.yaml").write_text(
        "alias: fake\nbackend: fake\nthroughput_tokens_per_s: 400\nthroughput_source: made up for tests\n"
        "prices: {input_per_1m: 1.0, output_per_1m: 3.0}\n"
    )
    env = dict(os.environ, PYTHONPATH=str(root), SYNTHGEN_MODELS_DIR=str(models))

    def run(*args: str, **env_extra: str) -> subprocess.CompletedProcess:
        cmd = [sys.executable, "-m", "synthgen", "generate", "--model", "fake", *args]
        return subprocess.run(cmd, env={**env, **env_extra}, capture_output=True, text=True, timeout=300, cwd=root)

    return run


@pytest.mark.slow
@pytest.mark.graphviz
def test_tiny_gpu_budget_stops_gracefully_with_everything_flushed(tmp_path, fake_cli, require_graphviz):
    import json

    out = tmp_path / "run"
    # each fake batch takes 0.25 s on one accelerator; 0.0002 GPU-hours = 0.72 s: about 3 batches
    proc = fake_cli("--count", "200", "--batch-size", "4", "--max-gpu-hours", "0.0002", "--output", str(out),
                    SYNTHGEN_FAKE_DELAY_S="0.25")
    assert proc.returncode == 6, proc.stderr[-2000:]  # BudgetExceeded.exit_code: stopped early, on purpose
    assert "budget" in (proc.stdout + proc.stderr).lower() and "--max-gpu-hours" in proc.stdout + proc.stderr
    state = json.loads((out / "run.json").read_text())
    assert state["status"] == "stopped:budget"
    ledger = Ledger.from_dict(state["ledger"])
    assert 0.0002 <= ledger.gpu_hours < 0.0002 + 0.25 * 2 / 3600  # stopped at the first check past the limit
    assert ledger.usd == pytest.approx((ledger.prompt_tokens * 1.0 + ledger.completion_tokens * 3.0) / 1e6)
    raw = (out / "data.jsonl").read_bytes() if (out / "data.jsonl").exists() else b""
    records = [json.loads(x) for x in raw.splitlines()]
    assert raw == b"" or raw.endswith(b"\n")
    assert 0 < len(records) < 200
    assert sum(v[0] for v in state["quota"].values()) == len(records)  # run.json agrees with the disk
    assert "--resume" in state["resume_command"]


@pytest.mark.slow
def test_dry_run_prints_plan_and_estimate_and_writes_nothing(tmp_path, fake_cli):
    out = tmp_path / "run"
    proc = fake_cli("--count", "50", "--dry-run", "--output", str(out))
    assert proc.returncode == 0, proc.stderr[-2000:]
    text = proc.stdout
    for expected in ("plan: 50 examples", "prompt tokens", "GPU-hours: ~", "cost: ~$", "made up for tests"):
        assert expected in text, f"{expected!r} missing from:\n{text}"
    assert not (out / "data.jsonl").exists() and not (out / "run.json").exists()
