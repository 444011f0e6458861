# Two commands do all set-up on a fresh Debian machine: `make demo` and `make test`.
.PHONY: demo test test-city lint docs bootstrap config bench clean

bootstrap:
	@bash scripts/bootstrap.sh

demo: bootstrap
	.venv/bin/twin up --host 127.0.0.1 --port 5000

# every Python file of the project; lint runs first so a style slip fails in seconds, not after
# the 20-minute suite
PYTHON_SOURCES = twin tests bench scripts

lint: bootstrap
	.venv/bin/ruff check $(PYTHON_SOURCES)
	.venv/bin/ruff format --check $(PYTHON_SOURCES)

# two pytest workers (CI has two cores): each test module runs whole on one worker, in the
# order a serial run has (no reordering by size: some modules read what earlier ones left); each
# worker has its own embedded PostgreSQL and demo city (tests/conftest.py), so they share nothing
PYTEST_WORKERS ?= 2

test: lint
	.venv/bin/python -m pytest -q -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder $(PYTEST_ARGS)

# the calibration checks at city scale (several minutes each): the demo's programme baselines
test-city: bootstrap
	.venv/bin/python -m pytest -q -m city_scale $(PYTEST_ARGS)

docs: bootstrap
	.venv/bin/mkdocs build --strict

config: bootstrap
	.venv/bin/twin config

clean:
	-.venv/bin/twin db stop
	rm -rf .twin
