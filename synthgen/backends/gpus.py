"""The GPUs of this machine, and what synthgen knows of each kind.

``visible_gpus()`` asks ``nvidia-smi`` (it needs no CUDA library in this process, so the dry
run and ``--help`` stay light) and keeps only the GPUs ``CUDA_VISIBLE_DEVICES`` lets CUDA
see, the way CUDA reads that variable. ``KINDS`` holds each kind's memory (as nvidia-smi
reports it), peak memory bandwidth and dense bf16 tensor throughput from NVIDIA's data
sheets: the dry run estimates decode speed from the bandwidth and prefill from the FLOPs.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

from synthgen.errors import ConfigError

MIB = 2**20
GIB = 2**30
QUERY = ["nvidia-smi", "--query-gpu=index,uuid,name,memory.total", "--format=csv,noheader,nounits"]


@dataclass(frozen=True, slots=True)
class Gpu:
    name: str  # as nvidia-smi prints it, e.g. "NVIDIA H200"
    memory_bytes: int

    @property
    def memory_gib(self) -> float:
        return self.memory_bytes / GIB


@dataclass(frozen=True, slots=True)
class GpuKind:
    key: str  # what --gpu-kind takes, e.g. "H200"
    name: str  # nvidia-smi's name
    memory_mib: int  # memory.total as nvidia-smi reports it
    bandwidth_tb_s: float  # peak memory bandwidth, TB/s (10^12 bytes a second)
    bf16_tflops: float  # peak dense bf16 tensor throughput

    def gpu(self) -> Gpu:
        return Gpu(self.name, self.memory_mib * MIB)


KINDS: tuple[GpuKind, ...] = (
    GpuKind("B200", "NVIDIA B200", 183359, 8.0, 2250),
    GpuKind("H200", "NVIDIA H200", 143771, 4.8, 989),
    GpuKind("H200-NVL", "NVIDIA H200 NVL", 143771, 4.8, 836),
    GpuKind("H100", "NVIDIA H100 80GB HBM3", 81559, 3.35, 989),
    GpuKind("H100-NVL", "NVIDIA H100 NVL", 95830, 3.9, 835),
    GpuKind("H100-PCIE", "NVIDIA H100 PCIe", 81559, 2.0, 756),
    GpuKind("A100-80GB", "NVIDIA A100-SXM4-80GB", 81920, 2.039, 312),
    GpuKind("A100-80GB-PCIE", "NVIDIA A100 80GB PCIe", 81920, 1.935, 312),
    GpuKind("A100-40GB", "NVIDIA A100-SXM4-40GB", 40960, 1.555, 312),
    GpuKind("A100-40GB-PCIE", "NVIDIA A100-PCIE-40GB", 40960, 1.555, 312),
    GpuKind("L40S", "NVIDIA L40S", 46068, 0.864, 362),
    GpuKind("L4", "NVIDIA L4", 23034, 0.3, 121),
    GpuKind("A10", "NVIDIA A10", 23028, 0.6, 125),
    GpuKind("RTX4090", "NVIDIA GeForce RTX 4090", 24564, 1.008, 165),
)
_ALIASES = {"H100-SXM": "H100", "A100": "A100-80GB", "A100-40": "A100-40GB", "A100-80": "A100-80GB", "4090": "RTX4090"}


def _norm(text: str) -> str:
    return re.sub(r"[\s_]+", "-", text.strip().upper())


def kind_named(name: str) -> GpuKind | None:
    """A kind by its --gpu-kind key (any case), an alias such as "A100-40", or nvidia-smi's name."""
    key = _norm(name)
    key = _norm(_ALIASES.get(key, key))
    for kind in KINDS:
        if key in (_norm(kind.key), _norm(kind.name)):
            return kind
    return None


def parse_gpu_kind(value: str) -> list[Gpu]:
    """``--gpu-kind``: "H200", "2xH100" or "8 x A100-40GB" (a count, then a kind)."""
    match = re.fullmatch(r"\s*(?:(\d+)\s*[xX*]\s*)?(.+?)\s*", value)
    count = int(match.group(1)) if match and match.group(1) else 1
    kind = kind_named(match.group(2)) if match else None
    if kind is None or not 1 <= count <= 1024:
        known = ", ".join(k.key for k in KINDS)
        raise ConfigError(f"--gpu-kind {value!r}: not a GPU kind synthgen knows", hint=f"give [COUNTx]KIND, KIND one of {known}")
    return [kind.gpu()] * count


def parse_nvidia_smi(text: str, visible: str | None) -> list[Gpu]:
    """nvidia-smi's CSV rows (index, uuid, name, memory MiB), filtered by CUDA_VISIBLE_DEVICES
    (``visible``; None: all). CUDA reads that list up to its first entry that names no GPU."""
    rows = []
    for line in text.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) == 4 and parts[0].isdigit() and parts[3].isdigit():
            rows.append((parts[0], parts[1], Gpu(parts[2], int(parts[3]) * MIB)))
    if visible is None:
        return [gpu for _, _, gpu in rows]
    chosen: list[Gpu] = []
    for entry in (e.strip() for e in visible.split(",")):
        found = [gpu for index, uuid, gpu in rows if entry and (entry == index or (len(entry) > 4 and uuid.startswith(entry)))]
        if not found:
            break
        chosen.append(found[0])
    return chosen


def visible_gpus() -> list[Gpu]:
    """The GPUs CUDA will see here; empty without nvidia-smi or a working driver."""
    tool = shutil.which("nvidia-smi")
    if tool is None:
        return []
    try:
        proc = subprocess.run([tool, *QUERY[1:]], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return []
    if proc.returncode != 0:
        return []
    return parse_nvidia_smi(proc.stdout, os.environ.get("CUDA_VISIBLE_DEVICES"))


def describe(gpus: Sequence[Gpu]) -> str:
    """"2 x NVIDIA H100 80GB HBM3 (79.6 GiB)"; mixed kinds are listed one by one."""
    if not gpus:
        return "no GPU"
    if len(set(gpus)) == 1:
        return f"{len(gpus)} x {gpus[0].name} ({gpus[0].memory_gib:.1f} GiB)"
    return ", ".join(f"{g.name} ({g.memory_gib:.1f} GiB)" for g in gpus)
