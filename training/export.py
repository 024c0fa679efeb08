"""Export stage: SavedModel in TF Serving's layout, float and dynamic-range .tflite, and spec.json
(plus `class_indices.json` for classifiers: class name → output index, as Keras's image loaders write it), and
`network.json`: the network's layers and training curves (`training.network`), which the Space shows."""

from __future__ import annotations

import shutil
from importlib.metadata import version as package_version
from pathlib import Path

import numpy as np

from shared.artifact import DataProvenance, ImageInput, ModelSpec, TabularInput, TextInput, TextSteps
from shared.text import Vocabulary
from training.demos import Demo
from training.io import load_splits, read_json, write_json
from training.network import all_layers, network_summary
from training.paths import VOCABULARY_FILE, DemoPaths
from training.spec import CLASS_INDICES, feature_ranges
from training.text_graph import TEXT_INPUT, export_text_saved_model, steps_without_tf_ops
from training.tfjs import TOKEN_IDS_MODEL

TFLITE_FILES = {"tflite": "model.tflite", "tflite_quantized": "model_quant.tflite"}


def convert_to_tflite(saved_model: Path, *, quantize: bool) -> bytes:
    """Convert a SavedModel to TFLite: float32, or dynamic-range quantized weights (¼ the size)."""
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model))
    if quantize:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    return converter.convert()


def model_input(
    demo: Demo, network, splits: dict[str, np.ndarray], text_steps: dict | None = None
) -> ImageInput | TabularInput | TextInput:
    """What the exported model takes, read from the demo, the network's input shape and the training rows."""
    if demo.task == "text-classification":
        steps = TextSteps.model_validate(text_steps or {})
        return TextInput(
            sequence_length=int(network.inputs[0].shape[1]),
            steps=steps,
            vocabulary=VOCABULARY_FILE,
            saved_model_input="token_ids" if steps_without_tf_ops(steps) else TEXT_INPUT,
        )
    if not demo.channels:
        return TabularInput(
            features=feature_ranges(list(demo.features), np.concatenate([splits["x_train"], splits["x_val"]]))
        )
    _, height, width, _ = network.inputs[0].shape
    steps = (
        "frame like MNIST (bounding box to 20×20, centre of mass centred)" if demo.framing == "digit" else "center crop"
    )
    color = "gray" if demo.channels == 1 else "RGB"
    return ImageInput(
        height=height,
        width=width,
        channels=demo.channels,
        framing=demo.framing,
        preprocessing=f"shared.images.preprocess_image: {color}, {steps}, resize (Lanczos), /255",
    )


def unroll_recurrent(network) -> None:
    """Unroll the recurrent layers of `network` in the graphs traced from now on. Training runs their symbolic loop
    (its graph builds in seconds; an unrolled BiLSTM's took a minute), but LiteRT's builtin ops cannot run it
    (`TensorListReserve` is a Flex op): the exported graphs repeat the cell once per step, same weights and outputs."""
    import keras

    for layer in all_layers(network):
        if isinstance(layer, keras.layers.RNN):
            layer.unroll = True


def export_model(
    network,
    *,
    demo: Demo,
    version: int,
    provenance: DataProvenance,
    splits: dict[str, np.ndarray],
    out: Path,
    serving: Path,
    notes: dict[str, str] | None = None,
    text_steps: dict | None = None,
    vocabulary: Vocabulary | None = None,
) -> ModelSpec:
    """Write the SavedModel to `serving` and the .tflite files plus spec.json to `out`; return the spec.

    A text model also gets the vocabulary the prepare stage built (`text_steps`: the `shared.text` steps); its
    SavedModel takes raw strings (`training.text_graph`) unless a step has no TF op, and its .tflite token ids.
    """
    for stale in (serving, out / TOKEN_IDS_MODEL):
        if stale.exists():
            shutil.rmtree(stale)
    unroll_recurrent(network)
    spec_input = model_input(demo, network, splits, text_steps)
    takes_text = isinstance(spec_input, TextInput) and spec_input.saved_model_input == TEXT_INPUT
    # LiteRT and TF.js cannot run string ops (nor TF.js the lookup tables): they get the network alone, ids in
    ids_model = out / TOKEN_IDS_MODEL if takes_text else serving
    if takes_text:
        if vocabulary is None:
            raise ValueError("a text model that takes strings needs its vocabulary")
        export_text_saved_model(network, vocabulary, spec_input.steps, serving)
    network.export(str(ids_model), verbose=False)
    for role, filename in TFLITE_FILES.items():
        (out / filename).write_bytes(convert_to_tflite(ids_model, quantize=role == "tflite_quantized"))
    labels = [str(label) for label in splits["labels"]]
    files = dict(TFLITE_FILES)
    if demo.task == "text-classification":
        files["vocabulary"] = VOCABULARY_FILE
    spec = ModelSpec(
        name=demo.name,
        version=version,
        task=demo.task,
        labels=labels,
        target=demo.target,
        input=spec_input,
        signature_input=network.inputs[0].name,
        files=files,
        data=provenance,
        versions={"tensorflow": package_version("tensorflow-cpu"), "keras": package_version("keras")},
        trained_with=notes or {},
    )
    spec.save(out)
    if demo.is_classifier:
        write_json(out / CLASS_INDICES, {label: index for index, label in enumerate(labels)})
    return spec


def main(demo: Demo, section) -> None:
    """Run the stage for a Keras demo: read model.keras, splits and provenance, write build/<demo>/export/."""
    import keras

    name, version = demo.name, section.export.version
    paths = DemoPaths(name)
    text_steps = read_json(paths.text_steps) if demo.task == "text-classification" else None
    notes = demo.notes(section)
    network = keras.models.load_model(paths.keras_model)
    provenance = DataProvenance.model_validate(read_json(paths.provenance))
    paths.export.mkdir(parents=True, exist_ok=True)
    vocabulary = None
    if text_steps is not None:
        shutil.copy2(paths.vocabulary, paths.export / VOCABULARY_FILE)
        vocabulary = Vocabulary.load(paths.vocabulary)
        if missing := steps_without_tf_ops(TextSteps.model_validate(text_steps)):
            print(f"export {name}: no TF op for {' and '.join(missing)}: the SavedModel takes token ids, not text")
    splits = load_splits(paths.splits)
    spec = export_model(
        network,
        demo=demo,
        version=version,
        provenance=provenance,
        splits=splits,
        out=paths.export,
        serving=paths.serving(version),
        notes=notes,
        text_steps=text_steps,
        vocabulary=vocabulary,
    )
    network_summary(network, paths.live).save(paths.export)  # the Space shows it (the layers, the curves)
    np.save(paths.keras_test_outputs, network.predict(demo.inputs(splits["x_test"]), batch_size=256, verbose=0))
    sizes = ", ".join(f"{f} {(paths.export / f).stat().st_size / 1024:.0f} KiB" for f in spec.files.values())
    takes = getattr(spec.input, "saved_model_input", "")
    print(f"export {name}: SavedModel {paths.serving(version)}" + (f" (takes {takes})" if takes else "") + f", {sizes}")
