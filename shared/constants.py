"""Environment variables, read here and nowhere else."""

from __future__ import annotations

import os
from pathlib import Path

# Python of the separate TF.js converter environment (tensorflowjs does not install beside TF 2.21).
TFJS_PYTHON = Path(os.environ.get("SPACESUITE_TFJS_PYTHON", ".venv-tfjs/bin/python"))
# Where `spacesuite serve` listens.
SERVER_NAME = os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1")
SERVER_PORT = int(os.environ.get("GRADIO_SERVER_PORT", "7860"))
