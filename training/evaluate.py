"""Evaluate stage: accuracy and macro precision/recall/F1 per split, and the test confusion matrix."""

from __future__ import annotations

import csv
from pathlib import Path

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


def plot_confusion(y_true: np.ndarray, y_pred: np.ndarray, labels: list[str], path: Path) -> None:
    """Save the confusion matrix as a PNG (rows: actual, columns: predicted; counts in the cells)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import confusion_matrix

    matrix = confusion_matrix(y_true, y_pred, labels=range(len(labels)))
    figure, axes = plt.subplots(figsize=(7, 6), dpi=100)
    axes.imshow(matrix, cmap="Blues")
    axes.set(xticks=range(len(labels)), yticks=range(len(labels)), xticklabels=labels, yticklabels=labels)
    axes.set(xlabel="predicted", ylabel="actual", title=f"Test split: {np.trace(matrix)} of {matrix.sum()} correct")
    for (row, column), count in np.ndenumerate(matrix):
        if count:
            color = "white" if count > matrix.max() / 2 else "black"
            axes.text(column, row, str(count), ha="center", va="center", fontsize=6, color=color)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def predict_classes(network, pixels: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """Top class of every row, predicted by a Keras model in batches."""
    probabilities = network.predict(normalize(pixels), batch_size=batch_size, verbose=0)
    return np.argmax(probabilities, axis=1)


def main(demo: str) -> None:
    """Run the stage for `demo`: write metrics/<demo>/evaluate.json and plots/<demo>/confusion.{csv,png}."""
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
    plot_confusion(splits["y_test"], test_predicted, labels, paths.plots / "confusion.png")
    print(
        f"evaluate {demo}: test accuracy {report['test']['accuracy']:.4f}, "
        f"macro F1 {report['test']['f1_macro']:.4f} on {report['test']['rows']} rows"
    )
