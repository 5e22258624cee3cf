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


def measure(name: str, run) -> dict:
    started = time.perf_counter()
    outputs = run()  # list of (completion_tokens, finish_reason)
    wall = time.perf_counter() - started
    tokens = sum(t for t, _ in outputs)
    stopped = sum(1 for _, r in outputs if r == "stop")
    row = {"mode": name, "outputs": len(outputs), "stopped": stopped, "output_tokens": tokens,
           "wall_s": round(wall, 2), "tokens_per_s": round(tokens / wall, 2)}
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


def run_transformers(spec, requests, batch_size: int) -> dict:
    from synthgen.backends.registry import create_backend

    backend = create_backend(spec, backend="transformers", batch_size=batch_size)
    backend.load()
    backend.generate(requests[:2])  # warm-up: grammar compiled
    row = measure("synthgen-transformers", lambda: [(c.completion_tokens, c.finish_reason)
                                                    for c in backend.generate(requests)])
    backend.close()
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--prompts", type=int, default=64)
    parser.add_argument("--complexity", default="simple", help="simple|medium|complex|any")
    parser.add_argument("--grammar-engine", default="guidance", choices=["guidance", "xgrammar"])
    parser.add_argument("--skip", action="append", default=[], choices=["vllm", "transformers"])
    parser.add_argument("--hf-batch", type=int, default=16)
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
        rows.append(run_transformers(spec, requests, args.hf_batch))
    speed = {r["mode"]: r["tokens_per_s"] for r in rows}
    ratios = {}
    if {"synthgen-vllm", "raw-grammar"} <= speed.keys():
        ratios["synthgen_vllm_vs_raw_grammar"] = round(speed["synthgen-vllm"] / speed["raw-grammar"], 3)
    if {"raw-grammar", "raw-unconstrained"} <= speed.keys():
        ratios["raw_grammar_vs_unconstrained"] = round(speed["raw-grammar"] / speed["raw-unconstrained"], 3)
    report = {"model": args.model, "prompts": args.prompts, "complexity": args.complexity,
              "grammar_engine": args.grammar_engine, "machine": f"{platform.machine()} {os.cpu_count()} cores",
              "rows": rows, "ratios": ratios}
    print(json.dumps(ratios, indent=2))
    if args.out:
        args.out.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
