# Two commands do all set-up on a fresh Debian machine: `make demo` and `make test`.
.PHONY: demo test docs bootstrap config bench clean

bootstrap:
	@bash scripts/bootstrap.sh

demo: bootstrap
	.venv/bin/twin up --host 127.0.0.1 --port 5000

test: bootstrap
	.venv/bin/python -m pytest -q $(PYTEST_ARGS)

docs: bootstrap
	.venv/bin/mkdocs build --strict

config: bootstrap
	.venv/bin/twin config

clean:
	-.venv/bin/twin db stop
	rm -rf .twin
