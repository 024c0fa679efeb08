"""Export stage: SavedModel in TF Serving's layout, float and dynamic-range .tflite, and spec.json
(plus `class_indices.json` for classifiers: class name → output index, as Keras's image loaders write it)."""

from __future__ import annotations

import math
import shutil
from importlib.metadata import version as package_version
from pathlib import Path

import numpy as np

from shared.artifact import DataProvenance, Feature, ImageInput, ModelSpec, TabularInput, TextInput
from shared.text import TextSteps
from training import housing
from training.io import read_json, write_json
from training.models import model_info
from training.paths import DemoPaths
from training.prepare import VOCABULARY_FILE
from training.train import load_splits

TFLITE_FILES = {"tflite": "model.tflite", "tflite_quantized": "model_quant.tflite"}

CLASS_INDICES = "class_indices.json"


def convert_to_tflite(saved_model: Path, *, quantize: bool) -> bytes:
    """Convert a SavedModel to TFLite: float32, or dynamic-range quantized weights (¼ the size)."""
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model))
    if quantize:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    return converter.convert()


def feature_ranges(features: list[Feature], rows: np.ndarray) -> list[Feature]:
    """The features with the range seen in `rows` (what a form accepts) and the median as default."""
    return [
        feature.model_copy(
            update={
                # 4 decimals, widened outward so training values stay inside; the 1e-6 slack absorbs float32
                # error (5.9 is stored as 5.900000095367432 and must not become 5.9001)
                "minimum": math.floor((float(rows[:, i].min()) + 1e-6) * 1e4) / 1e4,
                "maximum": math.ceil((float(rows[:, i].max()) - 1e-6) * 1e4) / 1e4,
                "default": round(float(np.median(rows[:, i])), 4),
            }
        )
        for i, feature in enumerate(features)
    ]


def model_input(
    name: str, network, splits: dict[str, np.ndarray], text_steps: dict | None = None
) -> ImageInput | TabularInput | TextInput:
    """What the exported model takes, read from the network's input shape and the training rows."""
    info = model_info(name)
    if info.task == "text-classification":
        steps = TextSteps.model_validate(text_steps or {})
        return TextInput(sequence_length=int(network.inputs[0].shape[1]), steps=steps, vocabulary=VOCABULARY_FILE)
    if not info.channels:
        rows = np.concatenate([splits["x_train"], splits["x_val"]])
        return TabularInput(features=feature_ranges(housing.FEATURES, rows))
    _, height, width, _ = network.inputs[0].shape
    framing = info.framing
    steps = "frame like MNIST (bounding box to 20×20, centre of mass centred)" if framing == "digit" else "center crop"
    color = "gray" if info.channels == 1 else "RGB"
    return ImageInput(
        height=height,
        width=width,
        channels=info.channels,
        framing=framing,
        preprocessing=f"shared.images.preprocess_image: {color}, {steps}, resize (Lanczos), /255",
    )


def export_model(
    network,
    *,
    name: str,
    version: int,
    provenance: DataProvenance,
    splits: dict[str, np.ndarray],
    out: Path,
    serving: Path,
    notes: dict[str, str] | None = None,
    text_steps: dict | None = None,
) -> ModelSpec:
    """Write the SavedModel to `serving` and the .tflite files plus spec.json to `out`; return the spec.

    A text model also gets the vocabulary the prepare stage built (`text_steps`: the `shared.text` steps).
    """
    if serving.exists():
        shutil.rmtree(serving)
    network.export(str(serving), verbose=False)
    for role, filename in TFLITE_FILES.items():
        (out / filename).write_bytes(convert_to_tflite(serving, quantize=role == "tflite_quantized"))
    info = model_info(name)
    labels = [str(label) for label in splits["labels"]]
    files = dict(TFLITE_FILES)
    if info.task == "text-classification":
        files["vocabulary"] = VOCABULARY_FILE
    spec = ModelSpec(
        name=name,
        version=version,
        task=info.task,
        labels=labels,
        target=None if info.is_classifier else housing.TARGET_SPEC,
        input=model_input(name, network, splits, text_steps),
        signature_input=network.inputs[0].name,
        files=files,
        data=provenance,
        versions={"tensorflow": package_version("tensorflow-cpu"), "keras": package_version("keras")},
        trained_with=notes or {},
    )
    spec.save(out)
    if info.is_classifier:
        write_json(out / CLASS_INDICES, {label: index for index, label in enumerate(labels)})
    return spec


def main(name: str, version: int, notes: dict[str, str] | None = None, text_steps: dict | None = None) -> None:
    """Run the stage for a model: read model.keras, splits and provenance, write build/<model>/export/."""
    import keras

    paths = DemoPaths(name)
    network = keras.models.load_model(paths.keras_model)
    provenance = DataProvenance.model_validate(read_json(paths.provenance))
    paths.export.mkdir(parents=True, exist_ok=True)
    if text_steps is not None:
        shutil.copy2(paths.splits.with_name(VOCABULARY_FILE), paths.export / VOCABULARY_FILE)
    spec = export_model(
        network,
        name=name,
        version=version,
        provenance=provenance,
        splits=load_splits(paths.splits),
        out=paths.export,
        serving=paths.serving(version),
        notes=notes,
        text_steps=text_steps,
    )
    sizes = ", ".join(f"{f} {(paths.export / f).stat().st_size / 1024:.0f} KiB" for f in spec.files.values())
    print(f"export {name}: SavedModel {paths.serving(version)}, {sizes}")
