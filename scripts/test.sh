#!/usr/bin/env bash
# The test command: set up (with the test extras), lint, then every test (unit, real pipeline, apps, browser).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh --test
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/python -m pytest "$@"
