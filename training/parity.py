"""Parity stage: run the .tflite models on LiteRT over the whole test split and compare with Keras."""

from __future__ import annotations

import numpy as np

from shared.images import normalize
from shared.predictor import Predictor
from training.io import write_json
from training.params import ParityParams
from training.paths import DemoPaths
from training.train import load_splits


class ParityError(RuntimeError):
    """A .tflite model agrees with Keras on fewer test rows than params.yaml demands."""


def predict_in_batches(predictor: Predictor, inputs: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Probabilities for every row, run through LiteRT `batch_size` rows at a time."""
    return np.concatenate(
        [predictor.predict_proba(inputs[start : start + batch_size]) for start in range(0, len(inputs), batch_size)]
    )


def compare(reference: np.ndarray, candidate: np.ndarray, y_true: np.ndarray) -> dict[str, float]:
    """Top-1 agreement, both accuracies and the largest probability difference of two models."""
    ref_top, cand_top = reference.argmax(axis=1), candidate.argmax(axis=1)
    return {
        "agreement": float(np.mean(ref_top == cand_top)),
        "keras_accuracy": float(np.mean(ref_top == y_true)),
        "tflite_accuracy": float(np.mean(cand_top == y_true)),
        "max_abs_diff": float(np.max(np.abs(reference - candidate))),
    }


def main(demo: str, parity: ParityParams) -> None:
    """Run the stage for `demo`; raise ParityError when agreement is below the thresholds."""
    import keras

    paths = DemoPaths(demo)
    splits = load_splits(paths.splits)
    inputs, y_true = normalize(splits["x_test"]), splits["y_test"]
    reference = keras.models.load_model(paths.keras_model).predict(inputs, batch_size=512, verbose=0)
    report = {
        "float": compare(reference, predict_in_batches(Predictor.from_artifact(paths.export), inputs), y_true),
        "quantized": compare(
            reference, predict_in_batches(Predictor.from_artifact(paths.export, quantized=True), inputs), y_true
        ),
        "rows": len(y_true),
    }
    write_json(paths.metrics / "parity.json", report)
    print(
        f"parity {demo}: float agreement {report['float']['agreement']:.4f}, "
        f"quantized agreement {report['quantized']['agreement']:.4f} on {len(y_true)} test rows"
    )
    for kind, minimum in (("float", parity.min_agreement), ("quantized", parity.min_agreement_quantized)):
        if report[kind]["agreement"] < minimum:
            raise ParityError(
                f"{kind} .tflite agrees with Keras on {report[kind]['agreement']:.4f} of test rows, "
                f"below parity.{'min_agreement' if kind == 'float' else 'min_agreement_quantized'} = {minimum}"
            )
