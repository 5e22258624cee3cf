"""Output tokens/s of the engines on the same prompts, and what synthgen and the grammar cost.

    python bench/engines.py [--model smollm2-135m] [--prompts 64] [--complexity simple] [--out FILE]

Modes (one engine at a time; the three vLLM modes share one engine):
- ``raw-unconstrained``: ``vllm.LLM.generate`` on the same token ids, no grammar;
- ``raw-grammar``: ``vllm.LLM.generate`` with ``StructuredOutputsParams(grammar=G)``;
- ``synthgen-vllm``: synthgen's vllm backend (chat templating, chunking, Completion records);
- ``synthgen-transformers``: synthgen's transformers + Outlines backend.

Ratios printed: synthgen-vllm / raw-grammar (target >= 0.9) and raw-grammar /
raw-unconstrained (grammar overhead; target >= 0.7). Speed is measured here, never asserted
in tests. Each mode runs once after a warm-up call that compiles the grammar.

Every row runs the same ``--prompts`` requests and prints wall time next to CPU-seconds
(this process and its live children, the vLLM engine core included): on a shared machine
a slow wall time with unchanged CPU-seconds means contention, not a slower engine.
``--hf-batch 4,8,16`` runs the transformers row once per batch size (padded batches: a
batch decodes until its longest output ends, so the best size depends on the machine).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DOMAINS = [
    "game AI", "network protocol", "CI/CD workflow", "UI navigation", "robotics controller",
    "database transaction", "e-commerce order", "document lifecycle",
]
# Measured 2026-11-22 with --skip vllm --prompts 16 --hf-batch 16,8,4 on the shared 2-core box:
# 13.3 / 12.8 / 9.8 output tok/s (15.6 / 18.2 / 15.8 tok per CPU-second). 16 is the fastest by wall
# time, 8 by CPU-seconds (the runs saw different contention); 4 is slowest on both.
DEFAULT_HF_BATCH = 16
SUBJECTS = ["a small state machine", "a retry loop with failure states", "a happy path and two error paths",
            "a process with an approval step", "a lifecycle with a terminal state", "a loop that can be cancelled",
            "a flow with a timeout", "a handshake between two parties"]


def build_requests(count: int, complexity: str | None):
    from synthgen.backends.base import GenerationRequest, SamplingSettings
    from synthgen.commands.try_ import SYSTEM_PROMPT
    from synthgen.dot.gen_grammar import generation_grammar, recommended_max_tokens

    grammar = generation_grammar(complexity)
    sampling = SamplingSettings(temperature=0.7, top_p=0.95, max_tokens=recommended_max_tokens(complexity))
    requests = []
    for i in range(count):
        topic = f"{SUBJECTS[i // len(DOMAINS) % len(SUBJECTS)]} for a {DOMAINS[i % len(DOMAINS)]}"
        messages = [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": topic}]
        requests.append(GenerationRequest(f"b{i}", messages, sampling, grammar=grammar, seed=i))
    return requests


def cpu_seconds() -> float:
    """User + system CPU time of this process and its live children (vLLM's engine core)."""
    import psutil

    me = psutil.Process()
    total = sum(me.cpu_times()[:2])
    for child in me.children(recursive=True):
        try:
            total += sum(child.cpu_times()[:2])
        except psutil.Error:  # exited between listing and reading
            pass
    return total


def measure(name: str, run) -> dict:
    cpu = cpu_seconds()
    started = time.perf_counter()
    outputs = run()  # list of (completion_tokens, finish_reason)
    wall = time.perf_counter() - started
    cpu = cpu_seconds() - cpu
    tokens = sum(t for t, _ in outputs)
    stopped = sum(1 for _, r in outputs if r == "stop")
    row = {"mode": name, "outputs": len(outputs), "stopped": stopped, "output_tokens": tokens,
           "wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "tokens_per_s": round(tokens / wall, 2),
           "tokens_per_cpu_s": round(tokens / cpu, 2) if cpu > 0 else None}
    print(json.dumps(row), flush=True)
    return row


def run_vllm_modes(spec, requests, engine: str) -> list[dict]:
    from vllm import SamplingParams
    from vllm.sampling_params import StructuredOutputsParams

    from synthgen.backends.registry import create_backend

    backend = create_backend(spec, backend="vllm", batch_size=len(requests), grammar_engine=engine)
    started = time.perf_counter()
    backend.load()
    print(json.dumps({"vllm_load_s": round(time.perf_counter() - started, 1)}), flush=True)
    llm = backend.llm
    prompts = [{"prompt_token_ids": backend.render_prompt(r.messages)} for r in requests]
    s = requests[0].sampling

    def raw(grammar: str | None, count: int = len(requests)):
        params = [
            SamplingParams(temperature=s.temperature, top_p=s.top_p, max_tokens=s.max_tokens, seed=r.seed,
                           structured_outputs=StructuredOutputsParams(grammar=grammar) if grammar else None)
            for r in requests[:count]
        ]
        outs = llm.generate(prompts[:count], params, use_tqdm=False)
        return [(len(o.outputs[0].token_ids), o.outputs[0].finish_reason) for o in outs]

    def synthgen():
        return [(c.completion_tokens, c.finish_reason) for c in backend.generate(requests)]

    raw(requests[0].grammar, count=4)  # warm-up: grammar compiled and cached, kernels touched
    rows = [
        measure("raw-unconstrained", lambda: raw(None)),
        measure("raw-grammar", lambda: raw(requests[0].grammar)),
        measure("synthgen-vllm", synthgen),
    ]
    backend.close()
    return rows


def run_transformers(spec, requests, batch_sizes: list[int]) -> list[dict]:
    from synthgen.backends.registry import create_backend

    backend = create_backend(spec, backend="transformers", batch_size=batch_sizes[0])
    started = time.perf_counter()
    backend.load()
    print(json.dumps({"transformers_load_s": round(time.perf_counter() - started, 1)}), flush=True)
    backend.generate(requests[:2])  # warm-up: grammar compiled
    rows = []
    for size in batch_sizes:
        backend.batch_size = size
        name = "synthgen-transformers" if len(batch_sizes) == 1 else f"synthgen-transformers-b{size}"
        row = measure(name, lambda: [(c.completion_tokens, c.finish_reason) for c in backend.generate(requests)])
        row["batch_size"] = size
        rows.append(row)
    backend.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--prompts", type=int, default=64)
    parser.add_argument("--complexity", default="simple", help="simple|medium|complex|any")
    parser.add_argument("--grammar-engine", default="guidance", choices=["guidance", "xgrammar"])
    parser.add_argument("--skip", action="append", default=[], choices=["vllm", "transformers"])
    parser.add_argument("--hf-batch", default=str(DEFAULT_HF_BATCH),
                        help="transformers batch size, or a comma list to compare several")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from synthgen.models import resolve_model

    spec = resolve_model(args.model)
    complexity = None if args.complexity == "any" else args.complexity
    requests = build_requests(args.prompts, complexity)
    rows = []
    if "vllm" not in args.skip:
        rows += run_vllm_modes(spec, requests, args.grammar_engine)
    if "transformers" not in args.skip:
        rows += run_transformers(spec, requests, [int(b) for b in args.hf_batch.split(",")])
    speed = {r["mode"]: r["tokens_per_s"] for r in rows}
    hf = [r for r in rows if r["mode"].startswith("synthgen-transformers")]
    if hf:  # the best batch size stands for the transformers backend in the ratios
        speed["synthgen-transformers"] = max(r["tokens_per_s"] for r in hf)
    ratios = {}
    if {"synthgen-vllm", "raw-grammar"} <= speed.keys():
        ratios["synthgen_vllm_vs_raw_grammar"] = round(speed["synthgen-vllm"] / speed["raw-grammar"], 3)
    if {"raw-grammar", "raw-unconstrained"} <= speed.keys():
        ratios["raw_grammar_vs_unconstrained"] = round(speed["raw-grammar"] / speed["raw-unconstrained"], 3)
    if {"synthgen-transformers", "synthgen-vllm"} <= speed.keys():
        ratios["synthgen_transformers_vs_synthgen_vllm"] = round(
            speed["synthgen-transformers"] / speed["synthgen-vllm"], 3)
    if {"synthgen-transformers", "raw-grammar"} <= speed.keys():
        ratios["synthgen_transformers_vs_raw_grammar"] = round(speed["synthgen-transformers"] / speed["raw-grammar"], 3)
    report = {"model": args.model, "prompts": args.prompts, "complexity": args.complexity,
              "grammar_engine": args.grammar_engine, "machine": f"{platform.machine()} {os.cpu_count()} cores",
              "rows": rows, "ratios": ratios}
    print(f"\n{'mode':32}{'outputs':>8}{'stopped':>8}{'tokens':>8}{'wall s':>9}{'CPU s':>9}{'tok/s':>8}{'tok/CPU-s':>10}")
    for r in rows:
        print(f"{r['mode']:32}{r['outputs']:>8}{r['stopped']:>8}{r['output_tokens']:>8}{r['wall_s']:>9.1f}"
              f"{r['cpu_s']:>9.1f}{r['tokens_per_s']:>8.1f}{r['tokens_per_cpu_s'] or 0:>10.1f}")
    print(json.dumps(ratios, indent=2))
    if args.out:
        args.out.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
