"""Fit a model to the GPUs at hand: tensor parallel size and engine replicas, or a refusal.

Each GPU of an engine holds 1/tp of the weights, a fixed runtime share (CUDA context, NCCL
buffers, CUDA graphs, the activations of vLLM's profiling step: 1-3 GiB in vLLM's own logs
for models of this size) and 1/tp of the KV cache, within ``gpu_memory_utilization`` of its
memory. A tensor parallel size is *useful* when the KV cache left over holds
``MIN_SEQUENCES`` sequences of ``max_model_len``: below that the decode batch stays small
and a memory-bound GPU is mostly waiting. The smallest useful size wins, because dense
models scale better as independent engines (replicas) than over more all-reduces; so the
box runs ``gpus // (tp x pp)`` replicas. An explicit size (``--tensor-parallel``, a number
in the model YAML) is only checked against vLLM's own minimum: one sequence of
``max_model_len`` must fit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from synthgen.backends.gpus import GIB, Gpu, describe
from synthgen.errors import BackendError

if TYPE_CHECKING:
    from synthgen.models import ModelShape, ModelSpec

RUNTIME_GIB = 2.0  # per GPU, outside weights and KV cache
MIN_SEQUENCES = 8  # a useful KV cache holds this many sequences of max_model_len
MAX_TENSOR = 64


@dataclass(frozen=True, slots=True)
class Needs:
    """What a model asks of GPU memory."""

    alias: str
    params: int
    weights_bytes: int
    kv_bytes_per_token: int | None  # None: the model's shape is not known
    kv_heads: int | None
    attention_heads: int | None
    max_model_len: int
    memory_fraction: float  # gpu_memory_utilization
    pipeline: int = 1
    basis: str = ""  # where the weights figure came from


@dataclass(frozen=True, slots=True)
class Placement:
    tensor: int
    pipeline: int
    replicas: int  # engines the GPUs could hold side by side
    running: int  # engines synthgen starts (one)
    gpus: tuple[Gpu, ...]
    kv_cache_gib: float  # per engine
    kv_tokens: int | None
    explicit: bool
    reason: str

    def line(self) -> str:
        run = f"; {self.replicas} replicas possible, running {self.running}" if self.replicas > self.running else ""
        where = describe(self.gpus) if self.gpus else "the CPU"
        return f"placement: tensor parallel {self.tensor} on {where}{run} ({self.reason})"

    def to_dict(self) -> dict:
        data = asdict(self)
        data["gpus"] = describe(self.gpus) if self.gpus else "cpu"
        return data


def needs_of(spec: ModelSpec, config: dict | None = None, shape: ModelShape | None = None) -> Needs | None:
    """A spec's needs: parameters and shape from config.json when at hand, else the YAML's
    ``params_b`` and ``shape``; None when the parameter count is unknown."""
    from synthgen.models import config_parameters, dtype_bytes, shape_from_config

    params = config_parameters(config) if config else None
    basis = "config.json"
    if params is None and spec.params_b:
        params, basis = int(spec.params_b * 1e9), "params_b in the model YAML"
    if params is None:
        return None
    width = dtype_bytes(spec, config)
    shape = shape or spec.shape or shape_from_config(config)
    return Needs(
        alias=spec.alias,
        params=params,
        weights_bytes=params * width,
        kv_bytes_per_token=shape.kv_bytes_per_token(width) if shape else None,
        kv_heads=shape.kv_heads if shape else None,
        attention_heads=shape.attention_heads if shape else None,
        max_model_len=spec.max_model_len,
        memory_fraction=spec.gpu_memory_utilization,
        pipeline=spec.parallelism.pipeline,
        basis=f"{params / 1e9:.2f}B parameters x {width} bytes, from {basis}",
    )


@dataclass(frozen=True, slots=True)
class _Room:
    tensor: int
    need_gib: float  # per GPU, for a useful cache
    usable_gib: float
    kv_gib: float  # per engine, what is left for the KV cache
    kv_tokens: int | None


def _room(needs: Needs, gpu_gib: float, tensor: int) -> _Room:
    share = tensor * needs.pipeline
    usable = gpu_gib * needs.memory_fraction
    weights = needs.weights_bytes / GIB / share
    kv_per_gpu = max(0.0, usable - weights - RUNTIME_GIB)
    if needs.kv_bytes_per_token is None:  # unknown shape: ask for a tenth of the memory
        return _Room(tensor, weights + RUNTIME_GIB + usable / 10, usable, kv_per_gpu * share, None)
    # KV heads are split across the tensor group; with fewer heads than GPUs they are copied.
    split = min(tensor, needs.kv_heads or tensor) * needs.pipeline
    per_token = needs.kv_bytes_per_token / split
    tokens = int(kv_per_gpu * GIB / per_token)
    useful = MIN_SEQUENCES * needs.max_model_len * per_token / GIB
    return _Room(tensor, weights + RUNTIME_GIB + useful, usable, kv_per_gpu * share, tokens)


def _sizes(needs: Needs, limit: int) -> list[int]:
    """Powers of two up to ``limit`` that the model's heads divide (vLLM's requirement)."""
    sizes, tp = [], 1
    while tp <= limit:
        if needs.attention_heads is None or needs.attention_heads % tp == 0:
            sizes.append(tp)
        tp *= 2
    return sizes


def _useful(room: _Room) -> bool:
    return room.need_gib <= room.usable_gib


def _fits_one_sequence(needs: Needs, room: _Room) -> bool:
    if room.kv_tokens is None:
        return room.kv_gib > 0
    return room.kv_tokens >= needs.max_model_len


def fit(needs: Needs, gpus: Sequence[Gpu], tensor: int | None = None) -> Placement:
    """The placement for ``needs`` on ``gpus``; ``tensor`` is an explicit size (None: auto).
    Raises BackendError with one line naming memory needed and usable, and what to change."""
    if not gpus:
        raise BackendError(f"model {needs.alias!r} needs a GPU and none is visible",
                           hint="check nvidia-smi and CUDA_VISIBLE_DEVICES, or pick a model for vllm-cpu")
    gpu_gib = min(g.memory_gib for g in gpus)  # every GPU of an engine gets the same share
    count = len(gpus)
    if tensor is not None:
        return _explicit(needs, gpus, gpu_gib, tensor)
    for tp in _sizes(needs, count // needs.pipeline):
        room = _room(needs, gpu_gib, tp)
        if _useful(room) and count % (tp * needs.pipeline) == 0:
            return _placement(needs, gpus, room, explicit=False)
    raise BackendError(_refusal(needs, gpus, gpu_gib), hint=_hint(needs, gpus, gpu_gib))


def _explicit(needs: Needs, gpus: Sequence[Gpu], gpu_gib: float, tensor: int) -> Placement:
    group = tensor * needs.pipeline
    if group > len(gpus):
        raise BackendError(f"model {needs.alias!r}: tensor parallel {tensor} x pipeline {needs.pipeline} needs {group} GPUs, "
                           f"{len(gpus)} visible ({describe(gpus)})",
                           hint="lower --tensor-parallel (or parallelism.tensor; 'auto' chooses) or expose more GPUs")
    room = _room(needs, gpu_gib, tensor)
    if not _fits_one_sequence(needs, room):
        raise BackendError(_refusal(needs, gpus, gpu_gib, tensor), hint=_hint(needs, gpus, gpu_gib))
    return _placement(needs, gpus, room, explicit=True)


def _placement(needs: Needs, gpus: Sequence[Gpu], room: _Room, *, explicit: bool) -> Placement:
    group = room.tensor * needs.pipeline
    cache = f"{room.kv_gib:.1f} GiB KV cache"
    if room.kv_tokens is not None:
        cache += f" = {room.kv_tokens:,} tokens, {room.kv_tokens / needs.max_model_len:.1f} sequences of {needs.max_model_len}"
    weights = f"{needs.weights_bytes / GIB:.1f} GiB weights ({needs.basis})"
    if explicit:
        why = f"as configured; {weights}, {cache}"
        if not _useful(room):
            why += f"; under the {MIN_SEQUENCES} sequences wanted for large batches"
    else:
        why = f"the smallest size leaving a useful KV cache: {weights}, {cache}"
    return Placement(tensor=room.tensor, pipeline=needs.pipeline, replicas=len(gpus) // group, running=1,
                     gpus=tuple(gpus[:group]), kv_cache_gib=round(room.kv_gib, 2), kv_tokens=room.kv_tokens,
                     explicit=explicit, reason=why)


def _refusal(needs: Needs, gpus: Sequence[Gpu], gpu_gib: float, tensor: int | None = None) -> str:
    """The best size there is (explicit, else the largest the GPUs allow) and why it falls short."""
    sizes = [tensor] if tensor else _sizes(needs, len(gpus) // needs.pipeline) or [1]
    room = _room(needs, gpu_gib, sizes[-1])
    share = room.tensor * needs.pipeline
    if room.kv_tokens is None:
        cache = "a tenth of memory for KV cache"
    else:
        wanted = needs.max_model_len * (1 if tensor else MIN_SEQUENCES)
        cache = f"KV cache for {wanted // needs.max_model_len} x {needs.max_model_len} tokens"
        split = min(room.tensor, needs.kv_heads or room.tensor) * needs.pipeline
        kv = wanted * needs.kv_bytes_per_token / split / GIB
        room = _Room(room.tensor, needs.weights_bytes / GIB / share + RUNTIME_GIB + kv, room.usable_gib, room.kv_gib, room.kv_tokens)
    return (f"model {needs.alias!r} does not fit {describe(gpus)}: at tensor parallel {room.tensor} each GPU needs "
            f"{room.need_gib:.1f} GiB ({needs.weights_bytes / GIB / share:.1f} weights + {RUNTIME_GIB:g} runtime + {cache}) "
            f"and has {room.usable_gib:.1f} GiB usable (gpu_memory_utilization {needs.memory_fraction:g})")


def _hint(needs: Needs, gpus: Sequence[Gpu], gpu_gib: float) -> str:
    more = next((tp for tp in _sizes(needs, MAX_TENSOR) if _useful(_room(needs, gpu_gib, tp))), None)
    where = f"{more * needs.pipeline} x {gpus[0].name} would fit it; or " if more and more * needs.pipeline > len(gpus) else ""
    return (f"{where}use GPUs with more memory, a smaller model, a lower max_model_len, "
            "or a fixed parallelism.tensor to accept a smaller KV cache")
