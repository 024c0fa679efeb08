"""Evaluate stage: metrics per split, and the test split's confusion matrix (classifiers) or
predicted-vs-actual plot (regressors), as DVC plots and as PNG pictures for the model card."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from sklearn.metrics import accuracy_score, mean_absolute_error, precision_recall_fscore_support, r2_score

from shared.artifact import DataProvenance, Target
from shared.text import TextSteps, Vocabulary
from training.baseline import (
    ALL,
    BLESSING_FILE,
    BRIGHTNESS_EDGES,
    SLICES_FILE,
    WORD_EDGES,
    brightness,
    buckets,
    classification_slices,
    compare,
    find_baseline,
    word_counts,
)
from training.demos import Demo
from training.io import load_splits, read_json, write_json
from training.params import BlessParams
from training.paths import DemoPaths


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """Accuracy and macro-averaged precision, recall and F1."""
    precision, recall, f1, _ = precision_recall_fscore_support(y_true, y_pred, average="macro", zero_division=0)
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "precision_macro": float(precision),
        "recall_macro": float(recall),
        "f1_macro": float(f1),
    }


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """RMSE, MAE (in target units) and R²."""
    return {
        "rmse": float(np.sqrt(np.mean((y_true - y_pred) ** 2))),
        "mae": float(mean_absolute_error(y_true, y_pred)),
        "r2": float(r2_score(y_true, y_pred)),
    }


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_confusion(y_true: np.ndarray, y_pred: np.ndarray, labels: list[str], path: Path) -> None:
    """Save the confusion matrix as a PNG (rows: actual, columns: predicted; counts in the cells)."""
    from sklearn.metrics import confusion_matrix

    plt = _pyplot()
    matrix = confusion_matrix(y_true, y_pred, labels=range(len(labels)))
    side = min(7.0, 3.0 + 0.17 * len(labels))
    figure, axes = plt.subplots(figsize=(side + 1, side), dpi=100)
    axes.imshow(matrix, cmap="Blues")
    rotation = 30 if max(len(label) for label in labels) > 3 else 0
    axes.set(xticks=range(len(labels)), yticks=range(len(labels)))
    axes.set_xticklabels(labels, rotation=rotation, ha="right" if rotation else "center")
    axes.set_yticklabels(labels)
    axes.set(xlabel="predicted", ylabel="actual", title=f"Test split: {np.trace(matrix)} of {matrix.sum()} correct")
    for (row, column), count in np.ndenumerate(matrix):
        if count:
            color = "white" if count > matrix.max() / 2 else "black"
            axes.text(
                column, row, str(count), ha="center", va="center", fontsize=6 if len(labels) > 12 else 9, color=color
            )
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def plot_predicted_vs_actual(y_true: np.ndarray, y_pred: np.ndarray, path: Path, unit: str) -> None:
    """Save a scatter of predicted against actual values with the y = x line, as a PNG."""
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(6, 6), dpi=100)
    axes.scatter(y_true, y_pred, s=6, alpha=0.4)
    low, high = float(min(y_true.min(), y_pred.min())), float(max(y_true.max(), y_pred.max()))
    axes.plot([low, high], [low, high], color="black", linewidth=1, label="perfect")
    rmse = float(np.sqrt(np.mean((y_true - y_pred) ** 2)))
    axes.set(xlabel=f"actual ({unit})", ylabel=f"predicted ({unit})", title=f"Test split: RMSE {rmse:.3f} ({unit})")
    axes.legend(loc="upper left")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def predict(network, demo: Demo, rows: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Raw network output for stored rows: class probabilities (N, classes) or values (N,)."""
    output = network.predict(demo.inputs(rows), batch_size=batch_size, verbose=0)
    return output if demo.is_classifier else output.reshape(-1)


def unit_of(target: Target | None) -> str:
    """How a regressor's own unit reads on a plot axis: `$100,000`, `10 kg`, or the unit."""
    if target is None:
        return ""
    if target.unit == "$":
        return f"${target.scale:,.0f}"
    return f"{target.scale:g} {target.unit}" if target.scale != 1 else target.unit


def write_pairs(path: Path, header: tuple[str, str], pairs) -> None:
    """Write (actual, predicted) rows under `header`: the CSV `dvc plots` reads."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(pairs)


def test_slices(demo: Demo, splits: dict[str, np.ndarray], predicted: np.ndarray) -> dict[str, dict[str, float]]:
    """The test split's scores as a whole and per slice (`training.baseline`): each class, and length buckets for a
    text model or brightness buckets for an image model; a regressor's whole split only."""
    y_test = splits["y_test"]
    if not demo.is_classifier:
        return {ALL: regression_metrics(y_test, predicted) | {"rows": len(y_test)}}
    groups: dict[str, list[str]] = {}
    paths = DemoPaths(demo.name)
    if demo.task == "text-classification":
        steps = TextSteps.model_validate(read_json(paths.text_steps))
        words = word_counts([str(t) for t in splits["text_test"]], steps, Vocabulary.load(paths.vocabulary))
        groups["words"] = buckets(words, WORD_EDGES, "words")
    elif demo.channels:
        values = brightness(demo.inputs(splits["x_test"]))
        groups["brightness"] = buckets(values, BRIGHTNESS_EDGES, "brightness", "{:.2f}")
    labels = [str(label) for label in splits["labels"]]
    return classification_slices(y_test, predicted, labels, groups)


def blessing(test: dict[str, float], bless: BlessParams) -> dict:
    """The TFX-Evaluator-style verdict: blessed only when every test score meets its threshold in params (the ones
    that apply: accuracy and macro-F1 for a classifier, RMSE for a regressor)."""
    minimums = {key: getattr(bless, f"min_{key}") for key in ("accuracy", "f1_macro") if key in test}
    maximums = {"rmse": bless.max_rmse} if "rmse" in test and bless.max_rmse is not None else {}
    failures = [f"test {k} {test[k]:.4f} < bless.min_{k} {limit}" for k, limit in minimums.items() if test[k] < limit]
    failures += [f"test {k} {test[k]:.4f} > bless.max_{k} {limit}" for k, limit in maximums.items() if test[k] > limit]
    return {"blessed": not failures, "failures": failures, "thresholds": {**minimums, **maximums}}


def main(demo: Demo, bless: BlessParams) -> None:
    """Run the stage for a Keras demo: write metrics/<demo>/evaluate.json, its test-split plots and blessing.json
    (which the bundle stage checks)."""
    import keras

    paths = DemoPaths(demo.name)
    name = demo.name
    splits = load_splits(paths.splits)
    network = keras.models.load_model(paths.keras_model)
    report: dict[str, dict[str, float]] = {}
    outputs = {}
    for split in ("train", "val", "test"):
        output = predict(network, demo, splits[f"x_{split}"])
        outputs[split] = output.argmax(axis=1) if demo.is_classifier else output
        metrics = (classification_metrics if demo.is_classifier else regression_metrics)(
            splits[f"y_{split}"], outputs[split]
        )
        report[split] = {**metrics, "rows": len(output)}
    write_json(paths.metrics / "evaluate.json", report)
    paths.plots.mkdir(parents=True, exist_ok=True)
    y_test, test_output = splits["y_test"], outputs["test"]
    if demo.is_classifier:
        labels = [str(label) for label in splits["labels"]]
        pairs = ((labels[a], labels[p]) for a, p in zip(y_test, test_output, strict=True))
        write_pairs(paths.plots / "confusion.csv", ("actual", "predicted"), pairs)
        plot_confusion(y_test, test_output, labels, paths.plots / "confusion.png")
        summary = f"test accuracy {report['test']['accuracy']:.4f}, macro F1 {report['test']['f1_macro']:.4f}"
    else:
        pairs = ((f"{a:.4f}", f"{p:.4f}") for a, p in zip(y_test, test_output, strict=True))
        write_pairs(paths.plots / "predictions.csv", ("actual", "predicted"), pairs)
        plot_predicted_vs_actual(y_test, test_output, paths.plots / "predictions.png", unit_of(demo.target))
        summary = f"test RMSE {report['test']['rmse']:.4f}, R² {report['test']['r2']:.4f}"
    print(f"evaluate {name}: {summary} on {report['test']['rows']} rows")
    write_blessing(name, report["test"], bless, test_slices(demo, splits, test_output))


def write_blessing(name: str, test: dict[str, float], bless: BlessParams, slices: dict[str, dict[str, float]]) -> dict:
    """Write metrics/<demo>/slices.json and blessing.json: the thresholds' verdict, and the comparison with the
    last blessed model's committed slices (`training.baseline`); say the verdict and return it."""
    paths = DemoPaths(name)
    source = DataProvenance.model_validate(read_json(paths.provenance)).source
    write_json(paths.metrics / SLICES_FILE, {"data_source": source, "test": slices})
    verdict = blessing(test, bless)
    found = find_baseline(paths.metrics, bless.baseline) if bless.baseline else None
    if found is None:
        why = f"no blessed model with slices up to {bless.baseline}" if bless.baseline else "bless.baseline: null"
        verdict["baseline"] = {"compared": False, "why": why}
    elif found.data_source != source:
        why = f"the last blessed model ({found.commit[:8]}) learned from {found.data_source} data, this from {source}"
        verdict["baseline"] = {"compared": False, "why": why}
    else:
        failures = compare(slices, found.slices, tolerance=bless.tolerance, min_rows=bless.min_slice_rows)
        verdict["failures"] += failures
        verdict["blessed"] = not verdict["failures"]
        failed = sorted({line.split(":")[0].removeprefix("slice ") for line in failures})
        verdict["baseline"] = {
            "compared": True,
            "commit": found.commit,
            "tolerance": bless.tolerance,
            "failed_slices": failed,
        }
    write_json(paths.metrics / BLESSING_FILE, verdict)
    said = "blessed" if verdict["blessed"] else "NOT blessed: " + "; ".join(verdict["failures"])
    compared = verdict["baseline"]
    against = f"against {compared['commit'][:8]} on {len(slices)} slices" if compared["compared"] else compared["why"]
    print(f"evaluate {name}: {said} ({against})")
    return verdict
