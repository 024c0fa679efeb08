"""Evaluate stage: accuracy and macro precision/recall/F1 per split, and the test confusion matrix."""

from __future__ import annotations

import csv

import numpy as np
from sklearn.metrics import accuracy_score, precision_recall_fscore_support

from shared.images import normalize
from training.io import write_json
from training.paths import DemoPaths
from training.train import load_splits


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """Accuracy and macro-averaged precision, recall and F1."""
    precision, recall, f1, _ = precision_recall_fscore_support(y_true, y_pred, average="macro", zero_division=0)
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "precision_macro": float(precision),
        "recall_macro": float(recall),
        "f1_macro": float(f1),
    }


def predict_classes(network, pixels: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """Top class of every row, predicted by a Keras model in batches."""
    probabilities = network.predict(normalize(pixels), batch_size=batch_size, verbose=0)
    return np.argmax(probabilities, axis=1)


def main(demo: str) -> None:
    """Run the stage for `demo`: write metrics/<demo>/evaluate.json and plots/<demo>/confusion.csv."""
    import keras

    paths = DemoPaths(demo)
    splits = load_splits(paths.splits)
    labels = [str(label) for label in splits["labels"]]
    network = keras.models.load_model(paths.keras_model)
    report: dict[str, dict[str, float]] = {}
    for split in ("train", "val", "test"):
        predicted = predict_classes(network, splits[f"x_{split}"])
        report[split] = {**classification_metrics(splits[f"y_{split}"], predicted), "rows": len(predicted)}
        if split == "test":
            test_predicted = predicted
    write_json(paths.metrics / "evaluate.json", report)
    paths.plots.mkdir(parents=True, exist_ok=True)
    with (paths.plots / "confusion.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["actual", "predicted"])
        writer.writerows((labels[a], labels[p]) for a, p in zip(splits["y_test"], test_predicted, strict=True))
    print(
        f"evaluate {demo}: test accuracy {report['test']['accuracy']:.4f}, "
        f"macro F1 {report['test']['f1_macro']:.4f} on {report['test']['rows']} rows"
    )
