#!/usr/bin/env bash
# Installs what the demo (default) or the test suite (--test) needs, on a fresh machine:
# a virtual environment in .venv with the package installed editable (which builds the
# frontend with npm), and for --test the test tools and Debian's chromium.
set -euo pipefail
cd "$(dirname "$0")/.."

with_tests=0
[ "${1:-}" = "--test" ] && with_tests=1

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if [ "$with_tests" = 1 ] && [ ! -x /usr/bin/chromium ]; then
  echo "==> installing Debian's chromium (browser tests)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core >/dev/null
fi

if ! command -v npm >/dev/null; then
  echo "==> installing Node.js and npm (the frontend build)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
fi

# The frontend build (esbuild) needs Node 18 or later; the frontend tests (vite 7, under
# vitest) need ^20.19 or >= 22.12.  An older distribution's nodejs fails later with a
# message that does not say so; say it here instead.
node_ok=$(node -e '
  const [major, minor] = process.versions.node.split(".").map(Number);
  const build = major >= 18;
  const tests = (major === 20 && minor >= 19) || (major === 22 && minor >= 12) || major > 22;
  process.stdout.write(build && (process.argv[1] === "0" || tests) ? "yes" : "no");
' "$with_tests")
if [ "$node_ok" != yes ]; then
  need="18 or later"
  [ "$with_tests" = 1 ] && need="^20.19 or >= 22.12 (vite 7, which the frontend tests run on)"
  echo "error: Node.js $(node --version) is too old; this needs Node $need." >&2
  echo "Install a newer Node.js (e.g. from nodejs.org or NodeSource) and run this again." >&2
  exit 1
fi

if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  "${PYTHON:-python3}" -m venv .venv
fi
pip=(.venv/bin/python -m pip install --quiet --disable-pip-version-check)
"${pip[@]}" --upgrade pip

echo "==> npm packages"
npm ci --no-audit --no-fund --loglevel=error

# The tests check the Keras ImageNet model against the torch original.  torch is pinned here,
# not in the package: 2.13.0 is the CPU build these machines carry, while an unpinned torch
# would pull several GB of CUDA wheels.
if [ "$with_tests" = 1 ]; then
  echo "==> Python packages (package, demo and test extras)"
  "${pip[@]}" -e ".[test]" "torch==2.13.0"
else
  echo "==> Python packages (package and demo extra)"
  "${pip[@]}" -e ".[demo]"
fi
echo "==> set up"
