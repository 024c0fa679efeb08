"""A Keras network described for people: its layers (Keras's `model.summary()`) and its per-epoch training curves
(dvclive's `plots/metrics/{train,eval}/*.tsv`), written beside the export's spec.json as `network.json`."""

from __future__ import annotations

import csv
from pathlib import Path

from shared.network import CurvePoint, Layer, NetworkSummary

SPLIT_FOLDERS = {"train": "train", "eval": "validation"}  # dvclive's folder → the split a person reads


def _output_shape(layer) -> str:
    try:
        shape = layer.output.shape
    except (AttributeError, ValueError):  # a layer never called (no output) has no shape to show
        return "?"
    return "(" + ", ".join("None" if size is None else str(size) for size in shape) + ")"


def all_layers(layer) -> list:
    """`layer` and every layer inside it, depth first: a nested model's layers and a `Bidirectional`'s two
    directions included (Keras's `model.layers` lists only the top level)."""
    import keras

    inner = [layer.forward_layer, layer.backward_layer] if isinstance(layer, keras.layers.Bidirectional) else []
    inner += getattr(layer, "layers", [])
    return [layer] + [each for child in inner for each in all_layers(child)]


def layer_table(network) -> list[Layer]:
    """Every top-level layer of a Keras model: name, class, output shape and parameter count."""
    return [
        Layer(
            name=layer.name, type=type(layer).__name__, output_shape=_output_shape(layer), params=layer.count_params()
        )
        for layer in network.layers
    ]


def training_curves(live: Path) -> list[CurvePoint]:
    """The per-epoch values of every metric dvclive logged for both splits (the learning rate, logged for training
    only, is left out); [] when `live` holds no curves."""
    metrics = live / "plots" / "metrics"
    both = {path.stem for path in (metrics / "train").glob("*.tsv")} & {
        path.stem for path in (metrics / "eval").glob("*.tsv")
    }
    points = []
    for folder, split in SPLIT_FOLDERS.items():
        for metric in sorted(both):
            with (metrics / folder / f"{metric}.tsv").open(encoding="utf-8", newline="") as handle:
                for row in csv.DictReader(handle, delimiter="\t"):
                    epoch = int(row["step"]) + 1
                    points.append(CurvePoint(epoch=epoch, metric=metric, split=split, value=float(row[metric])))
    return points


def network_summary(network, live: Path) -> NetworkSummary:
    """A Keras model's layers and parameter counts, with the training curves dvclive wrote under `live`."""
    trainable = sum(int(weight.numpy().size) for weight in network.trainable_weights)
    return NetworkSummary(
        layers=layer_table(network),
        total_params=int(network.count_params()),
        trainable_params=trainable,
        curves=training_curves(live),
    )
