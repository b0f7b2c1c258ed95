# The two quick-start commands are `make run` and `make test`; everything else is here too.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install run demo migrate test test-container unit lint bench clean

# uv installs what pip would, in well under half the time (20 s against 52 s here); where uv
# cannot be had or cannot reach the index (pip's own configuration, a mirror uv is not told
# of), pip does it. The venv is made without pip first: its ensurepip alone took 8 of the
# 10 s `python -m venv` takes, and uv installs pip (the wheel test builds with it) in under
# one. A uv already on PATH is used; else pip fetches one beside the venv.
$(BIN)/.installed: pyproject.toml
	( uv=$$(command -v uv || { PIP_ROOT_USER_ACTION=ignore $(PYTHON) -m pip install --quiet --target $(VENV)/.uv uv >&2 \
	    && echo $(VENV)/.uv/bin/uv; }) \
	  && $(PYTHON) -m venv --without-pip $(VENV) \
	  && $$uv pip install --quiet --python $(BIN)/python --compile-bytecode pip -e '.[dev]' ) \
	  || ( $(PYTHON) -m venv $(VENV) && $(BIN)/pip install --quiet -e '.[dev]' )
	touch $@

install: $(BIN)/.installed

run: install
	$(BIN)/python -m bot serve

# The whole flow against simulated Slack, Terraform and Bitbucket: no Slack app, no network.
demo: install
	$(BIN)/python scripts/demo.py

migrate: install
	$(BIN)/python -m bot migrate

lint: install
	$(BIN)/ruff check bot tests benchmarks migrations scripts
	$(BIN)/ruff format --check bot tests benchmarks migrations scripts
	$(BIN)/mypy
	$(BIN)/lint-imports

# The whole suite: lint, then every test on SQLite and on a throwaway PostgreSQL (left out,
# with one line saying so, where PostgreSQL's server binaries are missing; CI requires them).
#
# Bytecode is kept for this run even where PYTHONDONTWRITEBYTECODE is set: the suite starts
# Python some hundred times (its workers, the bots it runs as child processes), and each
# would compile bot/ and the tests anew.
#
# The lint runs beside the tests, its report printed after theirs: the suite leaves a core
# idle about a quarter of the time (its tests wait on timers and on each other), and mypy's
# 10 s fit in there instead of coming first. Either failing fails the target.
test: install
	$(BIN)/python -m compileall -q bot
	@echo "lint runs beside the tests; its report follows theirs"; report=$$(mktemp); ( $(MAKE) --no-print-directory lint > $$report 2>&1 ) & linting=$$!; \
	env -u PYTHONDONTWRITEBYTECODE $(BIN)/pytest -q -n 6 --maxschedchunk 1; tested=$$?; \
	wait $$linting; linted=$$?; echo "--- lint"; cat $$report; rm -f $$report; \
	[ $$linted -eq 0 ] || echo "lint failed (see above)"; \
	[ $$tested -eq 0 ] && [ $$linted -eq 0 ]

# The Dockerfile and compose.yaml built and run for real (needs a Docker engine; as root,
# scripts/ensure-docker installs one and builds the Debian base image from Debian's archive).
test-container: install
	./scripts/ensure-docker
	CONTAINER_TESTS=1 REQUIRE_CONTAINER=1 $(BIN)/pytest -q tests/container

bench: install
	./scripts/ensure-postgres
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
