#!/usr/bin/env bash
# The whole suite: static checks, frontend unit tests, Python tests (with the browser tests).
set -euo pipefail
cd "$(dirname "$0")/.."
export TF_CPP_MIN_LOG_LEVEL=2

echo "==> ruff"
.venv/bin/ruff check .
echo "==> mypy"
.venv/bin/mypy
echo "==> tsc --noEmit"
npm run --silent typecheck
[ "${1:-}" = "--lint-only" ] && exit 0

echo "==> vitest"
npm test --silent
echo "==> pytest (unit, adapters, explorer, notebooks, browser)"
.venv/bin/python -m pytest tests
