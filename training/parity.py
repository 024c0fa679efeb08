"""Parity stage: run the .tflite models on LiteRT over the whole test split and compare with Keras."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from shared.artifact import TextInput
from shared.predictor import Predictor
from shared.text import Vocabulary, check_text, tokenize
from training.demos import Demo
from training.io import load_splits, write_json
from training.params import ParityParams, RegressionParityParams
from training.paths import DemoPaths
from training.text_graph import TEXT_INPUT, TOKENIZE_SIGNATURE


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


def saved_model_text_parity(
    serving: Path, texts: list[str], spec_input: TextInput, vocabulary: Vocabulary, tflite: Predictor
) -> dict:
    """Run the SavedModel that takes strings on every text: its token ids against `shared.text`'s, its
    probabilities against `shared.text` + the float .tflite (what the Space answers)."""
    import tensorflow as tf

    model = tf.saved_model.load(str(serving))
    token_lists = [tokenize(check_text(text), spec_input.steps) for text in texts]
    expected_ids = vocabulary.encode_batch(token_lists, spec_input.sequence_length)
    graph_ids, probabilities = [], []
    for start in range(0, len(texts), 256):
        batch = tf.constant(texts[start : start + 256])
        graph_ids.append(next(iter(model.signatures[TOKENIZE_SIGNATURE](**{TEXT_INPUT: batch}).values())).numpy())
        probabilities.append(next(iter(model.signatures["serving_default"](**{TEXT_INPUT: batch}).values())).numpy())
    differ = np.flatnonzero(np.any(np.concatenate(graph_ids) != expected_ids, axis=1))
    reference = predict_in_batches(tflite, expected_ids)
    candidate = np.concatenate(probabilities)
    return {
        "rows": len(texts),
        "ids_differ": len(differ),
        "first_differing_text": texts[differ[0]] if len(differ) else None,
        "agreement": float(np.mean(reference.argmax(axis=1) == candidate.argmax(axis=1))),
        "max_abs_diff": float(np.max(np.abs(reference - candidate))),
    }


def check_saved_model_text(report: dict, parity: ParityParams) -> None:
    """Raise ParityError when the SavedModel's text steps tokenize any test text differently from `shared.text`,
    or its answers agree with the Space's (.tflite float) on fewer texts than `parity.min_agreement`."""
    if report["ids_differ"]:
        raise ParityError(
            f"the SavedModel's text steps give other token ids than shared.text on {report['ids_differ']} of "
            f"{report['rows']} test texts, e.g. {report['first_differing_text']!r}"
        )
    if report["agreement"] < parity.min_agreement:
        raise ParityError(
            f"the SavedModel taking text agrees with shared.text + .tflite on {report['agreement']:.4f} of test "
            f"texts, below parity.min_agreement = {parity.min_agreement}"
        )


def main(demo: Demo, parity: ParityParams | RegressionParityParams) -> None:
    """Run the stage for a Keras demo; raise ParityError when it misses the thresholds. The reference is the Keras
    model's test-split outputs, which the export stage kept: only a model that takes text loads TensorFlow here (for
    its SavedModel)."""
    name = demo.name
    paths = DemoPaths(name)
    splits = load_splits(paths.splits)
    inputs, y_true = demo.inputs(splits["x_test"]), splits["y_test"]
    reference = np.load(paths.keras_test_outputs)
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
    spec = Predictor.from_artifact(paths.export).spec
    text_graph = isinstance(spec.input, TextInput) and spec.input.saved_model_input == TEXT_INPUT
    if text_graph:
        vocabulary = Vocabulary.load(paths.export / spec.input.vocabulary)
        report["saved_model_text"] = saved_model_text_parity(
            paths.serving(spec.version),
            [str(text) for text in splits["text_test"]],
            spec.input,
            vocabulary,
            Predictor.from_artifact(paths.export),
        )
    write_json(paths.metrics / "parity.json", report)
    key = "agreement" if demo.is_classifier else "max_abs_diff"
    print(
        f"parity {name}: float {key} {report['float'][key]:.4f}, "
        f"quantized {key} {report['quantized'][key]:.4f} on {len(y_true)} test rows"
    )
    if text_graph:
        text = report["saved_model_text"]
        print(
            f"parity {name}: SavedModel on raw text: token ids as shared.text on "
            f"{text['rows'] - text['ids_differ']}/{text['rows']} texts, agreement with .tflite {text['agreement']:.4f}"
        )
    check(report, parity)
    if text_graph:
        check_saved_model_text(report["saved_model_text"], parity)
