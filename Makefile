# The two commands of the README.  Both set everything up on a fresh machine first.
.PHONY: demo test setup setup-test lint

# JupyterLab refuses to run as root without --allow-root (containers and CI machines often are).
demo: setup
	.venv/bin/jupyter lab notebooks/quickstart.ipynb $$([ "$$(id -u)" = 0 ] && echo --allow-root)

test: setup-test
	bash scripts/test.sh

setup:
	bash scripts/setup.sh

setup-test:
	bash scripts/setup.sh --test

lint:
	bash scripts/test.sh --lint-only
