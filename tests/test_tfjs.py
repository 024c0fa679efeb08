"""The TF.js graph model from the pipeline loads in Node (npm @tensorflow/tfjs) and agrees with LiteRT."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from shared.predictor import Predictor

pytestmark = pytest.mark.slow
JS = Path(__file__).parent / "js"


def test_tfjs_predictions_match_tflite(tiny_repo: Path, tmp_path: Path) -> None:
    node = shutil.which("node")
    assert node, "node is needed (scripts/bootstrap.sh installs the npm package beside it)"
    assert (JS / "node_modules" / "@tensorflow" / "tfjs").is_dir(), "run `npm ci` in tests/js (bootstrap does)"
    inputs = np.random.default_rng(0).random((3, 28, 28, 1), dtype=np.float32)
    (tmp_path / "input.json").write_text(json.dumps({"shape": list(inputs.shape), "data": inputs.ravel().tolist()}))
    model_dir = tiny_repo / "build" / "sign-language" / "tfjs"
    result = subprocess.run(
        [node, str(JS / "predict.mjs"), str(model_dir), str(tmp_path / "input.json")],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    output = json.loads(result.stdout.strip().splitlines()[-1])
    tfjs = np.array(output["data"], dtype=np.float32).reshape(output["shape"])
    tflite = Predictor.from_artifact(tiny_repo / "build" / "sign-language" / "export").predict(inputs)
    assert tfjs.shape == (3, 24)
    assert np.abs(tfjs - tflite).max() < 1e-4
