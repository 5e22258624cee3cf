# The two set-up commands in README.md: `make demo` and `make test`.
SHELL := /bin/bash
VENV := .venv/bin

.PHONY: install demo test

install:
	SYNTHGEN_EXTRAS=cpu,hf bash scripts/install.sh

demo: install
	$(VENV)/synthgen generate --count 12 --recipe-config examples/demo-checks.yaml --output runs/demo-$$(date +%Y%m%d-%H%M%S)

test:
	SYNTHGEN_EXTRAS=cpu,hf,dev bash scripts/install.sh
	$(VENV)/lint-imports --no-cache
	$(VENV)/ruff check synthgen tests bench
	$(VENV)/python -m pytest; rc=$$?; if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; fi; exit $$rc
