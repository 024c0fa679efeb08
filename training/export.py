"""Export stage: SavedModel in TF Serving's layout, float and dynamic-range .tflite, and spec.json."""

from __future__ import annotations

import shutil
from importlib.metadata import version as package_version
from pathlib import Path

from shared.artifact import DataProvenance, ImageInput, ModelSpec
from training import sign_language
from training.io import read_json
from training.paths import DemoPaths

TFLITE_FILES = {"tflite": "model.tflite", "tflite_quantized": "model_quant.tflite"}


def convert_to_tflite(saved_model: Path, *, quantize: bool) -> bytes:
    """Convert a SavedModel to TFLite: float32, or dynamic-range quantized weights (¼ the size)."""
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model))
    if quantize:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    return converter.convert()


def export_model(
    network, *, name: str, version: int, provenance: DataProvenance, out: Path, serving: Path
) -> ModelSpec:
    """Write the SavedModel to `serving` and the .tflite files plus spec.json to `out`; return the spec."""
    if serving.exists():
        shutil.rmtree(serving)
    network.export(str(serving), verbose=False)
    for role, filename in TFLITE_FILES.items():
        (out / filename).write_bytes(convert_to_tflite(serving, quantize=role == "tflite_quantized"))
    spec = ModelSpec(
        name=name,
        version=version,
        task="image-classification",
        labels=list(sign_language.LETTERS),
        input=ImageInput(height=sign_language.SIDE, width=sign_language.SIDE),
        signature_input=network.inputs[0].name,
        files=dict(TFLITE_FILES),
        data=provenance,
        versions={"tensorflow": package_version("tensorflow-cpu"), "keras": package_version("keras")},
    )
    spec.save(out)
    return spec


def main(demo: str, version: int) -> None:
    """Run the stage for `demo`: read model.keras and provenance.json, write build/<demo>/export/."""
    import keras

    paths = DemoPaths(demo)
    network = keras.models.load_model(paths.keras_model)
    provenance = DataProvenance.model_validate(read_json(paths.provenance))
    paths.export.mkdir(parents=True, exist_ok=True)
    spec = export_model(
        network, name=demo, version=version, provenance=provenance, out=paths.export, serving=paths.serving(version)
    )
    sizes = ", ".join(f"{f} {(paths.export / f).stat().st_size / 1024:.0f} KiB" for f in spec.files.values())
    print(f"export {demo}: SavedModel {paths.serving(version)}, {sizes}")
