"""HF transformers + Outlines: the engine for machines where vLLM can't run.

Outlines 1.3.3 builds the grammar constraint (``outlines.types.CFG`` -> an llguidance
logits processor); we call ``model.generate`` ourselves with that processor, because
Outlines' own ``Generator.batch`` returns text only and we need token counts and whether
a sequence ended on EOS (stop) or ran into ``max_new_tokens`` (length).

Batching: requests that share grammar and sampling settings go through one padded
``generate`` call (left padding, as Outlines sets). HF sampling has one global RNG, so a
batch is seeded once, from its requests' seeds: the same batch gives the same outputs.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from itertools import groupby
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from synthgen.backends.base import Completion, GenerationRequest
from synthgen.backends.grammar_args import outlines_cfg_source
from synthgen.errors import BackendError, ConfigError, SynthgenError
from synthgen.models import check_memory, estimate_memory, local_weights

if TYPE_CHECKING:
    from synthgen.models import ModelSpec


def batch_key(request: GenerationRequest) -> tuple:
    """Requests with equal keys can share one ``generate`` call."""
    s = request.sampling
    return (request.grammar, s.temperature, s.top_p, s.max_tokens, s.n)


def batch_seed(requests: Sequence[GenerationRequest], default: int) -> int:
    seeds = [r.seed for r in requests if r.seed is not None]
    if not seeds:
        return default
    value = 0
    for seed in seeds:
        value = (value * 1_000_003 + seed) % (2**31 - 1)
    return value


def cpu_threads(requested: int | None) -> int:
    """Torch threads on CPU. Measured on a shared 2-core box: 2 threads under contention ran
    a decoding step 5.7x slower than 1 (OpenMP spin-waits), so leave one core free like
    vLLM does, unless told otherwise (argument or OMP_NUM_THREADS)."""
    if requested:
        return requested
    env = os.environ.get("OMP_NUM_THREADS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    return max(1, (os.cpu_count() or 2) - 1)


def cpu_has_bf16() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


class TransformersBackend:
    name: ClassVar[str] = "transformers"
    supports_grammar: ClassVar[bool] = True
    supports_batching: ClassVar[bool] = True
    supports_json_schema: ClassVar[bool] = False  # a JSON schema request is generated unconstrained, then checked
    answers_from_recipe: ClassVar[bool] = False
    supports_request_seed = True
    source_label = "transformers"

    def __init__(self, spec: ModelSpec, *, batch_size: int = 16, seed: int = 0, device: str | None = None,
                 threads: int | None = None, **_: Any) -> None:
        self.spec = spec
        self.threads = threads
        self.batch_size = max(1, batch_size)
        self.seed = seed
        self.device = device
        self._model: Any = None
        self._tokenizer: Any = None
        self._outlines: Any = None
        self._processors: dict[str, Any] = {}

    @property
    def accelerators(self) -> int:
        return 1

    def load(self) -> None:
        if self._model is not None:
            return
        try:
            import outlines
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError as exc:
            raise BackendError(f"transformers/Outlines not installed: {exc}", hint="pip install 'synthgen[hf]'") from None
        model_id, revision = local_weights(self.spec)
        device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
        dtype = getattr(torch, self.spec.dtype, None) or "auto"
        if device == "cpu":
            torch.set_num_threads(cpu_threads(self.threads))
            # bf16 matmuls are slow on CPUs without native bf16: run float32 there.
            if dtype is torch.bfloat16 and not cpu_has_bf16():
                dtype = torch.float32
        self._check_memory(model_id, device, torch, 4 if dtype is torch.float32 else None)
        try:
            self._tokenizer = AutoTokenizer.from_pretrained(model_id, revision=revision)
            model = AutoModelForCausalLM.from_pretrained(model_id, revision=revision, dtype=dtype)
            self._model = model.to(device).eval()
            self._outlines = outlines.from_transformers(self._model, self._tokenizer)
        except SynthgenError:
            raise
        except Exception as exc:  # noqa: BLE001 - any load failure is one line with a hint
            raise BackendError(
                f"transformers could not load {self.spec.alias!r}: {type(exc).__name__}: {str(exc).splitlines()[0][:300]}",
                hint="check the model folder (config.json, weights), or HF_HUB_OFFLINE and the HF cache",
            ) from None
        if self._tokenizer.pad_token_id is None:
            self._tokenizer.pad_token = self._tokenizer.eos_token

    def _check_memory(self, model_id: str, device: str, torch: Any, bytes_per_weight: int | None) -> None:
        need = estimate_memory(self.spec, model_id, bytes_per_weight)
        if device.startswith("cuda"):
            check_memory(self.spec, need, torch.cuda.mem_get_info()[1] / 1e9, "GPU memory")
        else:
            import psutil

            check_memory(self.spec, need, psutil.virtual_memory().available / 1e9, "RAM")

    def _processor(self, grammar: str | None) -> Any:
        """An HF logits-processor list constraining to ``grammar`` (compiled once, reset per call)."""
        if grammar is None:
            return None
        if grammar not in self._processors:
            from outlines import Generator
            from outlines.types import CFG

            try:
                generator = Generator(self._outlines, CFG(outlines_cfg_source(grammar)))
            except SynthgenError:
                raise
            except Exception as exc:  # noqa: BLE001
                raise ConfigError(f"Outlines rejected the grammar: {type(exc).__name__}: {exc}") from None
            self._processors[grammar] = generator.logits_processor
        processor = self._processors[grammar]
        processor.reset()
        return self._outlines.type_adapter.format_output_type(processor)

    def render_prompt(self, messages: list[dict[str, str]]) -> str:
        try:
            return self._tokenizer.apply_chat_template(
                messages, tokenize=False, add_generation_prompt=True, chat_template=self.spec.chat_template
            )
        except ValueError as exc:
            raise ConfigError(
                f"model {self.spec.alias!r} has no usable chat template: {exc}", hint="set chat_template in the model YAML"
            ) from None

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Completion]:
        if self._model is None:
            raise BackendError("transformers backend used before load()")
        order = {id(r): i for i, r in enumerate(requests)}
        results: dict[int, list[Completion]] = {}
        ordered = sorted(requests, key=lambda r: (repr(batch_key(r)), order[id(r)]))
        for _, group in groupby(ordered, key=lambda r: repr(batch_key(r))):
            items = list(group)
            for start in range(0, len(items), self.batch_size):
                chunk = items[start : start + self.batch_size]
                for request, completions in zip(chunk, self._generate_chunk(chunk)):
                    results[order[id(request)]] = completions
        return [c for i in range(len(requests)) for c in results[i]]

    def _generate_chunk(self, chunk: list[GenerationRequest]) -> list[list[Completion]]:
        started = time.perf_counter()
        try:
            sequences, prompt_lens = self._run(chunk)
        except SynthgenError:
            raise
        except Exception as exc:  # noqa: BLE001 - a failed batch is counted, not fatal
            wall = time.perf_counter() - started
            error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:300] if str(exc) else ''}"
            return [[Completion(r.id, "", "error", latency_s=wall, error=error)] for r in chunk]
        wall = time.perf_counter() - started
        n = chunk[0].sampling.n
        return [
            [self._completion(r, sequences[i * n + k], prompt_lens[i] if k == 0 else 0, wall, k) for k in range(n)]
            for i, r in enumerate(chunk)
        ]

    def _run(self, chunk: list[GenerationRequest]) -> tuple[Any, list[int]]:
        import torch

        s = chunk[0].sampling
        texts = [self.render_prompt(r.messages) for r in chunk]
        inputs = self._tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(self._model.device)
        processor = self._processor(chunk[0].grammar)
        torch.manual_seed(batch_seed(chunk, self.seed))
        sample = s.temperature > 0
        with torch.inference_mode():
            output = self._model.generate(
                **inputs,
                logits_processor=processor,
                max_new_tokens=s.max_tokens,
                do_sample=sample,
                temperature=s.temperature if sample else None,
                top_p=s.top_p if sample else None,
                num_return_sequences=s.n,
                pad_token_id=self._tokenizer.pad_token_id,
            )
        prompt_lens = [int(x) for x in inputs["attention_mask"].sum(dim=1)]
        return output[:, inputs["input_ids"].shape[1] :], prompt_lens

    def _completion(self, request: GenerationRequest, ids: Any, prompt_tokens: int, wall: float, index: int) -> Completion:
        eos = self._model.generation_config.eos_token_id
        eos_ids = set(eos if isinstance(eos, list) else [eos]) | {self._tokenizer.eos_token_id}
        tokens = ids.tolist()
        end = next((i for i, t in enumerate(tokens) if t in eos_ids), None)
        kept = tokens if end is None else tokens[:end]
        return Completion(
            request_id=request.id,
            text=self._tokenizer.decode(kept, skip_special_tokens=True),
            finish_reason="length" if end is None else "stop",
            prompt_tokens=prompt_tokens,
            completion_tokens=len(kept) + (0 if end is None else 1),
            latency_s=wall,
            index=index,
        )

    def close(self) -> None:
        self._model = self._outlines = self._tokenizer = None
        self._processors.clear()
        import gc

        gc.collect()
