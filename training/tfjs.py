"""TF.js stage: convert the SavedModel to a TF.js graph model in the converter's own environment.

tensorflowjs 4.22 cannot be installed beside TensorFlow 2.21, so `scripts/bootstrap.sh` makes a second
virtual environment from requirements/tfjs.txt and this stage calls its converter as a subprocess.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from shared.artifact import ModelSpec, TextInput
from shared.constants import TFJS_PYTHON
from training.paths import DemoPaths

# Beside a SavedModel that takes text, export writes the network alone (token ids in) under this name: LiteRT is
# converted from it, and so is TF.js, which has neither the string ops nor the lookup tables of the text graph.
TOKEN_IDS_MODEL = "token_ids"


def convert_to_tfjs(
    saved_model: Path, out: Path, *, python: Path = TFJS_PYTHON, signature: str = "serving_default"
) -> None:
    """Run `tensorflowjs_converter --input_format=tf_saved_model` on `saved_model`'s `signature`, writing into `out`.

    Raises:
        FileNotFoundError: the converter environment is missing (the message says how to make it).
        subprocess.CalledProcessError: the converter failed (its output is shown above).
    """
    if not python.exists():
        raise FileNotFoundError(
            f"TF.js converter environment not found at {python}: run `bash scripts/bootstrap.sh` "
            "or set SPACESUITE_TFJS_PYTHON to a Python with requirements/tfjs.txt installed"
        )
    if out.exists():
        shutil.rmtree(out)
    command = [
        str(python), "-m", "tensorflowjs.converters.converter",
        "--input_format=tf_saved_model", "--output_format=tfjs_graph_model",
        f"--signature_name={signature}", "--saved_model_tags=serve",
        str(saved_model), str(out),
    ]  # fmt: skip
    subprocess.run(command, check=True, env={"TF_CPP_MIN_LOG_LEVEL": "2", "PATH": "/usr/bin:/bin"})


def main(demo: str, version: int) -> None:
    """Run the stage for `demo`: write build/<demo>/tfjs/model.json and its weight shards."""
    paths = DemoPaths(demo)
    spec_input = ModelSpec.load(paths.export).input
    # a SavedModel that takes text holds string ops and lookup tables TF.js lacks: convert the network alone (ids in,
    # what the .tflite takes), which export writes beside it
    takes_text = isinstance(spec_input, TextInput) and spec_input.saved_model_input == "text"
    convert_to_tfjs(paths.export / TOKEN_IDS_MODEL if takes_text else paths.serving(version), paths.tfjs)
    size = sum(f.stat().st_size for f in paths.tfjs.iterdir()) / 1024
    print(f"tfjs {demo}: {paths.tfjs}/model.json ({size:.0f} KiB)")
