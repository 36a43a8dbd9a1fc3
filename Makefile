# The two commands of the README: `make demo` (the main job) and `make test`.
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo lint test sandbox-up sandbox-down unit clean

$(STAMP): pyproject.toml devtools/pyproject.toml scripts/install.sh desk/package.json desk/package-lock.json
	bash scripts/install.sh
	touch $@

install: $(STAMP)

## The main job: installs what is missing, brings up the sandbox and the server, places a
## few real SIP calls, prints what happened, and keeps the server running until Ctrl-C.
demo: install
	$(BIN)/hotline-link demo

## The linters (configured in pyproject.toml): style and bugs, types, import layers.
lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/python -m devtools.import_cycles

## Every test, against the real sandbox; a missing Asterisk, SIPp or Redis fails the run.
## The linters run first, before the sandbox comes up.
test: install lint
	$(BIN)/hotline-link sandbox up
	HOTLINE_REQUIRE_SANDBOX=1 $(BIN)/python -m pytest -ra

unit: install
	$(BIN)/python -m pytest -ra tests/unit

sandbox-up: install
	$(BIN)/hotline-link sandbox up

sandbox-down: install
	$(BIN)/hotline-link sandbox down

clean:
	rm -rf $(VENV) .pytest_cache
