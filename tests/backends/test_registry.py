"""The backend registry: lazy, names every known backend on a typo, cheap constructors."""

from __future__ import annotations

import subprocess
import sys

import pytest

from synthgen.backends import registry
from synthgen.errors import UnknownNameError
from synthgen.models import resolve_model


def test_known_names_include_every_engine():
    assert registry.backend_names() == ["fake", "openai", "transformers", "vllm"]


def test_unknown_backend_lists_known_ones():
    with pytest.raises(UnknownNameError) as info:
        registry.backend_class("vlm")
    line = info.value.one_line()
    assert "unknown backend 'vlm'" in line and "vllm" in line and "transformers" in line


@pytest.mark.parametrize("name", ["vllm", "transformers"])
def test_create_is_cheap_and_loads_nothing(name):
    backend = registry.create_backend(resolve_model("smollm2-135m"), backend=name)
    assert backend.name == name and backend.supports_grammar
    assert backend._tokenizer is None  # nothing loaded until load()


def test_registry_import_pulls_no_engine():
    code = (
        "import sys, synthgen.backends.registry, synthgen.backends.vllm, synthgen.backends.transformers;"
        "heavy=[m for m in ('torch','vllm','transformers','outlines') if m in sys.modules];"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_bad_grammar_engine_is_refused_at_construction():
    from synthgen.errors import ConfigError

    with pytest.raises(ConfigError, match="cannot take a Lark grammar"):
        registry.create_backend(resolve_model("smollm2-135m"), grammar_engine="outlines")
