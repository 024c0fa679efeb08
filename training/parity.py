"""Parity stage: run the .tflite models on LiteRT over the whole test split and compare with Keras."""

from __future__ import annotations

import numpy as np

from shared.predictor import Predictor
from training.demos import Demo
from training.io import load_splits, write_json
from training.params import ParityParams, RegressionParityParams
from training.paths import DemoPaths


class ParityError(RuntimeError):
    """A .tflite model strays from Keras on the test split further than params.yaml allows."""


def predict_in_batches(predictor: Predictor, inputs: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """Raw outputs for every row, run through LiteRT `batch_size` rows at a time."""
    return np.concatenate(
        [predictor.predict(inputs[start : start + batch_size]) for start in range(0, len(inputs), batch_size)]
    )


def compare(reference: np.ndarray, candidate: np.ndarray, y_true: np.ndarray) -> dict[str, float]:
    """Top-1 agreement, both accuracies and the largest probability difference of two classifiers."""
    ref_top, cand_top = reference.argmax(axis=1), candidate.argmax(axis=1)
    return {
        "agreement": float(np.mean(ref_top == cand_top)),
        "keras_accuracy": float(np.mean(ref_top == y_true)),
        "tflite_accuracy": float(np.mean(cand_top == y_true)),
        "max_abs_diff": float(np.max(np.abs(reference - candidate))),
    }


def compare_regression(reference: np.ndarray, candidate: np.ndarray, y_true: np.ndarray) -> dict[str, float]:
    """Largest and mean |difference| of two regressors, and both RMSEs."""
    reference, candidate = reference.reshape(-1), candidate.reshape(-1)
    return {
        "max_abs_diff": float(np.max(np.abs(reference - candidate))),
        "mean_abs_diff": float(np.mean(np.abs(reference - candidate))),
        "keras_rmse": float(np.sqrt(np.mean((reference - y_true) ** 2))),
        "tflite_rmse": float(np.sqrt(np.mean((candidate - y_true) ** 2))),
    }


def check(report: dict, parity: ParityParams | RegressionParityParams) -> None:
    """Raise ParityError when a model of `report` misses its threshold in `parity`."""
    for kind in ("float", "quantized"):
        suffix = "" if kind == "float" else "_quantized"
        if isinstance(parity, ParityParams):
            value, limit = report[kind]["agreement"], getattr(parity, f"min_agreement{suffix}")
            if value < limit:
                raise ParityError(
                    f"{kind} .tflite agrees with Keras on {value:.4f} of test rows, "
                    f"below parity.min_agreement{suffix} = {limit}"
                )
        else:
            value, limit = report[kind]["max_abs_diff"], getattr(parity, f"max_abs_diff{suffix}")
            if value > limit:
                raise ParityError(
                    f"{kind} .tflite differs from Keras by up to {value:.5f} on the test split, "
                    f"above parity.max_abs_diff{suffix} = {limit}"
                )


def main(demo: Demo, parity: ParityParams | RegressionParityParams) -> None:
    """Run the stage for a Keras demo; raise ParityError when it misses the thresholds."""
    import keras

    name = demo.name
    paths = DemoPaths(name)
    splits = load_splits(paths.splits)
    inputs, y_true = demo.inputs(splits["x_test"]), splits["y_test"]
    reference = keras.models.load_model(paths.keras_model).predict(inputs, batch_size=256, verbose=0)
    compare_fn = compare if demo.is_classifier else compare_regression
    report = {
        kind: compare_fn(
            reference,
            predict_in_batches(Predictor.from_artifact(paths.export, quantized=kind == "quantized"), inputs),
            y_true,
        )
        for kind in ("float", "quantized")
    }
    report["rows"] = len(y_true)
    write_json(paths.metrics / "parity.json", report)
    key = "agreement" if demo.is_classifier else "max_abs_diff"
    print(
        f"parity {name}: float {key} {report['float'][key]:.4f}, "
        f"quantized {key} {report['quantized'][key]:.4f} on {len(y_true)} test rows"
    )
    check(report, parity)
