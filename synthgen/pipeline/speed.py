"""How fast a local engine will generate, for --dry-run's GPU-hours, and where that came from.

In order: a figure ``synthgen models bench`` measured and stored in the user cache for this
model alias on this GPU kind; an estimate from the GPU's memory bandwidth (decode is
memory-bound: each step reads the engine's weights once and each sequence's KV cache, so one
sequence runs at about bandwidth / weight bytes and a batch of B sequences at nearly B times
that, until the KV reads catch up), with prefill at a fraction of the GPU's FLOPs; without a
GPU, the figure in the model YAML (measured on the machine its note names).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from synthgen.backends.fit import Needs, Placement
from synthgen.backends.gpus import GIB, GpuKind

BANDWIDTH_EFFICIENCY = 0.7  # share of peak memory bandwidth a decode step reaches (vLLM on H100: ~60-80 %)
FLOPS_EFFICIENCY = 0.4  # share of peak dense bf16 FLOPs a prefill reaches
BENCH_FILE = "bench.json"
CPU_KIND = "cpu"


@dataclass(frozen=True, slots=True)
class Speed:
    tokens_per_s: float  # completion tokens a second of one engine, its prefill included
    accelerators: int  # GPUs one engine holds (1 for a CPU engine)
    basis: str


# -- figures measured by `synthgen models bench` ------------------------------------------


def bench_path() -> Path:
    from synthgen.paths import synthgen_home

    return synthgen_home() / BENCH_FILE


def stored_figures() -> dict[str, dict[str, Any]]:
    """alias -> GPU kind -> {tokens_per_s, ...}; an unreadable file counts as none."""
    try:
        data = json.loads(bench_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def stored_figure(alias: str, kind: str) -> dict[str, Any] | None:
    figure = stored_figures().get(alias, {}).get(kind)
    if isinstance(figure, dict) and isinstance(figure.get("tokens_per_s"), int | float) and figure["tokens_per_s"] > 0:
        return figure
    return None


def store_figure(alias: str, kind: str, figure: dict[str, Any]) -> Path:
    """Save one measurement (replacing that alias's figure for that kind), atomically."""
    path = bench_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    data = stored_figures()
    data.setdefault(alias, {})[kind] = {**figure, "measured_at": datetime.now(UTC).isoformat(timespec="seconds")}
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def from_store(alias: str, kind: str, accelerators: int) -> Speed | None:
    figure = stored_figure(alias, kind)
    if figure is None:
        return None
    where = f", {figure['note']}" if figure.get("note") else ""
    basis = (f"{figure['tokens_per_s']:,.1f} tokens/s measured by `synthgen models bench` for {alias} on {kind} "
             f"at {figure.get('measured_at', '?')}{where} ({bench_path()})")
    return Speed(float(figure["tokens_per_s"]), accelerators, basis)


# -- the bandwidth estimate ----------------------------------------------------------------


def from_bandwidth(needs: Needs, placement: Placement, kind: GpuKind, *, batch_size: int,
                   prompt_tokens: float, completion_tokens: float) -> Speed:
    """Tokens a second of one engine for requests of ``prompt_tokens`` + ``completion_tokens``."""
    tp = placement.tensor
    group = tp * placement.pipeline
    bandwidth = kind.bandwidth_tb_s * 1e12 * BANDWIDTH_EFFICIENCY * tp  # each GPU reads its own share
    length = max(1.0, prompt_tokens + completion_tokens)
    batch = max(1, batch_size)
    held = ""
    if placement.kv_tokens is not None:
        fits = max(1, int(placement.kv_tokens // length))
        if fits < batch:
            batch, held = fits, f" (the KV cache holds {fits})"
    kv_read = (needs.kv_bytes_per_token or 0) * (prompt_tokens + completion_tokens / 2)  # a sequence's cache, mid-way
    step_s = (needs.weights_bytes + batch * kv_read) / bandwidth
    decode = batch / step_s
    single = bandwidth / (needs.weights_bytes + kv_read)
    prefill_s = 2 * needs.params * prompt_tokens / (kind.bf16_tflops * 1e12 * FLOPS_EFFICIENCY * group)
    per_request_s = prefill_s + completion_tokens / decode  # prefill FLOPs are spent whatever the batch
    tokens_per_s = completion_tokens / per_request_s if completion_tokens else decode
    basis = (f"estimate from memory bandwidth: {kind.key} {kind.bandwidth_tb_s:g} TB/s x {tp} GPU(s) at an assumed "
             f"{BANDWIDTH_EFFICIENCY:.0%}; a decode step reads {needs.weights_bytes / GIB:.1f} GiB of weights + each "
             f"sequence's KV cache: {single:,.0f} tokens/s for one sequence, {decode:,.0f} for {batch} in flight "
             f"(batch factor {decode / single:.1f}; --batch-size {batch_size}{held}); prefill of {prompt_tokens:,.0f} "
             f"prompt tokens at {FLOPS_EFFICIENCY:.0%} of {kind.bf16_tflops:g} TFLOPS added, prefix caching not counted; "
             f"-> {tokens_per_s:,.0f} tokens/s. `synthgen models bench {needs.alias}` on the GPU measures it")
    return Speed(tokens_per_s, group, basis)


# -- the figure a dry run uses -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Planned:
    speed: Speed | None
    unknown: str = ""  # why there is no figure ("" with speed None: the model YAML's own figure)
    placement: str | None = None  # the fit's line, when GPUs are known


def plan_speed(spec: Any, gpu_kind: str | None, *, batch_size: int, prompt_tokens: float, completion_tokens: float) -> Planned:
    """The figure for ``spec`` on the GPUs ``--gpu-kind`` names, else those visible here."""
    from synthgen.backends.fit import fit, needs_of
    from synthgen.backends.gpus import kind_named, parse_gpu_kind, visible_gpus
    from synthgen.errors import BackendError
    from synthgen.models import read_model_config

    if spec.remote:
        return Planned(None)
    on_cpu = bool(gpu_kind) and gpu_kind.strip().lower() == CPU_KIND
    gpus = [] if on_cpu else parse_gpu_kind(gpu_kind) if gpu_kind else visible_gpus()
    if not gpus:
        stored = from_store(spec.alias, CPU_KIND, 1)
        if stored is not None or spec.throughput_tokens_per_s:
            return Planned(stored)
        if on_cpu:
            return Planned(None, f"no bench figure for {spec.alias} on cpu; `synthgen models bench {spec.alias}` measures one")
        return Planned(None, "no GPU visible; pass --gpu-kind H200 (or 2xH100, 8xA100-40GB, ...) to estimate for one")
    needs = needs_of(spec, read_model_config(spec))
    if needs is None:
        return Planned(None, "the model's parameter count is unknown: set params_b in its model YAML")
    tensor = spec.parallelism.tensor
    try:
        placement = fit(needs, gpus, None if tensor == "auto" else tensor)
    except BackendError as exc:
        return Planned(None, f"it does not fit: {exc.one_line()}")
    kind = kind_named(gpus[0].name)
    label = kind.key if kind else gpus[0].name
    group = placement.tensor * placement.pipeline
    stored = from_store(spec.alias, label, group)
    if stored is not None:
        return Planned(stored, placement=placement.line())
    if kind is None:
        return Planned(None, f"no bandwidth figure for {gpus[0].name}; `synthgen models bench {spec.alias}` measures one",
                       placement.line())
    speed = from_bandwidth(needs, placement, kind, batch_size=batch_size, prompt_tokens=prompt_tokens,
                           completion_tokens=completion_tokens)
    return Planned(speed, placement=placement.line())
