"""Sign-language accuracy on the REAL Kaggle data, through the project's own stage functions.

What it measures, for two ways of splitting the real Sign Language MNIST files:

- ``pooled``: the project's default (params.yaml ``sign_language.split``): both Kaggle files pooled and split
  80/10/10 stratified with ``base.seed``. Kaggle's files hold augmented copies of the same photos, so near-
  duplicates can land on both sides of this split; the figure is optimistic.
- ``kaggle``: train on ``sign_mnist_train`` only (its ``split.val`` share held out, stratified, as the
  validation set Keras watches) and test on Kaggle's own ``sign_mnist_test`` file: the honest, harder figure.

For each: rows per split, Keras test accuracy, float and dynamic-range quantized TFLite (LiteRT) test accuracy,
their top-1 agreement with Keras, macro F1 (Keras), and the wall times of ingest, training and export.
Goal from the issue: test accuracy ≥ 99.5 % (the original project reported 99.15 %).

Every file is written in a temporary directory (never the repository's build/); params come from
``training.params.load_params()`` (the repository's params.yaml), with optional overrides from the command line.

Run from the repository root (a few minutes per split on 2 CPU cores)::

    .venv/bin/python bench/sign_language_accuracy.py
    .venv/bin/python bench/sign_language_accuracy.py --epochs 20 --split kaggle --json bench/results/acc.json
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from shared.artifact import DataProvenance
from shared.images import normalize
from shared.predictor import Predictor
from training import sign_language
from training.evaluate import classification_metrics
from training.export import export_model
from training.ingest import ingest_sign_language
from training.params import Params, SplitParams, load_params
from training.parity import compare, predict_in_batches
from training.prepare import split_stratified
from training.train import train_classifier

# TensorFlow is imported lazily (inside train_classifier), so this still quiets its C++ INFO lines.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("DO_NOT_TRACK", "1")

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "datasets" / "sign-language-mnist"
GOAL = 0.995
ORIGINAL = 0.9915
SPLITS = ("pooled", "kaggle")


def to_classes(label_ids: np.ndarray) -> np.ndarray:
    """Map Kaggle label ids (0..24 without 9) to class indices 0..23, as the prepare stage does."""
    class_of_label = {label: index for index, label in enumerate(sign_language.LABEL_IDS)}
    return np.array([class_of_label[int(label)] for label in label_ids], dtype=np.int64)


def pooled_splits(pixels: np.ndarray, classes: np.ndarray, params: Params) -> dict[str, np.ndarray]:
    """The project's default split: both files pooled, stratified train/val/test by params.yaml."""
    parts = split_stratified(pixels, classes, params.sign_language.split, params.base.seed)
    return _as_arrays(parts)


def kaggle_splits(pixels: np.ndarray, classes: np.ndarray, train_rows: int, params: Params) -> dict[str, np.ndarray]:
    """Train on Kaggle's train file (minus a stratified `split.val` share for validation), test on its test file."""
    val_share = params.sign_language.split.val
    # split_stratified makes three parts; ask for train / val / a token third part that goes back to train.
    token = 0.01
    fractions = SplitParams(train=1.0 - val_share - token, val=val_share, test=token)
    parts = split_stratified(pixels[:train_rows], classes[:train_rows], fractions, params.base.seed)
    x_train = np.concatenate([parts["train"][0], parts["test"][0]])
    y_train = np.concatenate([parts["train"][1], parts["test"][1]])
    return _as_arrays(
        {
            "train": (x_train, y_train),
            "val": parts["val"],
            "test": (pixels[train_rows:], classes[train_rows:]),
        }
    )


def _as_arrays(parts: dict[str, tuple[np.ndarray, np.ndarray]]) -> dict[str, np.ndarray]:
    arrays = {f"{kind}_{name}": array for name, pair in parts.items() for kind, array in zip("xy", pair, strict=True)}
    arrays["labels"] = np.array(sign_language.LETTERS)
    return arrays


def run_split(
    name: str, splits: dict[str, np.ndarray], params: Params, provenance: DataProvenance, workdir: Path
) -> dict[str, Any]:
    """Train, export and score one split; return its figures (accuracies, agreement, F1, wall times)."""
    section = params.sign_language
    print(
        f"\n=== {name}: train {len(splits['y_train'])}, val {len(splits['y_val'])}, test {len(splits['y_test'])} "
        f"rows; {section.train.epochs} epochs ===",
        flush=True,
    )
    start = time.perf_counter()
    network = train_classifier(splits, section.model, section.train, seed=params.base.seed, live_dir=None)
    train_s = time.perf_counter() - start

    inputs, y_true = normalize(splits["x_test"]), splits["y_test"]
    reference = network.predict(inputs, batch_size=512, verbose=0)
    keras_metrics = classification_metrics(y_true, reference.argmax(axis=1))

    out = workdir / name / "export"
    out.mkdir(parents=True)
    start = time.perf_counter()
    export_model(
        network,
        name="sign-language",
        version=section.export.version,
        provenance=provenance,
        out=out,
        serving=out / "serving" / "sign-language" / str(section.export.version),
    )
    export_s = time.perf_counter() - start
    float_report = compare(reference, predict_in_batches(Predictor.from_artifact(out), inputs), y_true)
    quant_report = compare(reference, predict_in_batches(Predictor.from_artifact(out, quantized=True), inputs), y_true)
    return {
        "split": name,
        "rows": {part: len(splits[f"y_{part}"]) for part in ("train", "val", "test")},
        "keras": keras_metrics,
        "tflite_float": float_report,
        "tflite_quantized": quant_report,
        "train_s": train_s,
        "export_s": export_s,
        "tflite_kib": {f.name: f.stat().st_size / 1024 for f in sorted(out.glob("*.tflite"))},
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options: data folder, which splits, and optional training overrides."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder with the real Kaggle CSVs (.csv.gz)")
    parser.add_argument("--params", type=Path, default=REPO / "params.yaml", help="params.yaml to read")
    parser.add_argument("--split", choices=[*SPLITS, "both"], default="both", help="which split(s) to run")
    parser.add_argument("--epochs", type=int, help="override sign_language.train.epochs")
    parser.add_argument("--learning-rate", type=float, help="override sign_language.train.learning_rate")
    parser.add_argument("--batch-size", type=int, help="override sign_language.train.batch_size")
    parser.add_argument("--augment-shift", type=float, help="override sign_language.train.augment_shift")
    parser.add_argument("--augment-rotation", type=float, help="override sign_language.train.augment_rotation")
    parser.add_argument("--conv-filters", type=int, nargs="+", help="override sign_language.model.conv_filters")
    parser.add_argument("--dense-units", type=int, help="override sign_language.model.dense_units")
    parser.add_argument("--dropout", type=float, help="override sign_language.model.dropout")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here (e.g. bench/results/...)")
    return parser.parse_args(argv)


def with_overrides(params: Params, args: argparse.Namespace) -> Params:
    """Params with the command-line training and model overrides applied (validated again by pydantic)."""
    model = {"conv_filters": args.conv_filters, "dense_units": args.dense_units, "dropout": args.dropout}
    model = {key: value for key, value in model.items() if value is not None}
    overrides = {
        "epochs": args.epochs,
        "learning_rate": args.learning_rate,
        "batch_size": args.batch_size,
        "augment_shift": args.augment_shift,
        "augment_rotation": args.augment_rotation,
    }
    overrides = {key: value for key, value in overrides.items() if value is not None}
    if not overrides and not model:
        return params
    raw = params.model_dump()
    raw["sign_language"]["train"].update(overrides)
    raw["sign_language"]["model"].update(model)
    return Params.model_validate(raw)


def print_table(results: list[dict[str, Any]], ingest_s: float, params: Params) -> None:
    """Print the figures of every split as one table."""
    train, model = params.sign_language.train, params.sign_language.model
    print(
        f"\nSign-language accuracy on the real Kaggle data (epochs {train.epochs}, batch {train.batch_size}, "
        f"lr {train.learning_rate}, shift {train.augment_shift}, rotation {train.augment_rotation}, "
        f"conv {model.conv_filters}, dense {model.dense_units}, dropout {model.dropout}, seed {params.base.seed})"
    )
    header = f"{'figure':<40}" + "".join(f"{r['split']:>16}" for r in results)
    print(header)
    print("-" * len(header))
    rows: list[tuple[str, list[str]]] = [
        ("rows train / val", [f"{r['rows']['train']} / {r['rows']['val']}" for r in results]),
        ("rows test", [str(r["rows"]["test"]) for r in results]),
        ("Keras test accuracy", [f"{r['keras']['accuracy']:.2%}" for r in results]),
        ("TFLite float test accuracy", [f"{r['tflite_float']['tflite_accuracy']:.2%}" for r in results]),
        ("TFLite quantized test accuracy", [f"{r['tflite_quantized']['tflite_accuracy']:.2%}" for r in results]),
        ("agreement float / Keras", [f"{r['tflite_float']['agreement']:.2%}" for r in results]),
        ("agreement quantized / Keras", [f"{r['tflite_quantized']['agreement']:.2%}" for r in results]),
        ("macro F1 (Keras)", [f"{r['keras']['f1_macro']:.4f}" for r in results]),
        ("gap to 99.5 % goal (Keras)", [f"{(r['keras']['accuracy'] - GOAL) * 100:+.2f} pt" for r in results]),
        ("training wall time", [f"{r['train_s']:.0f} s" for r in results]),
        ("export wall time (SavedModel+2 tflite)", [f"{r['export_s']:.0f} s" for r in results]),
    ]
    for label, cells in rows:
        print(f"{label:<40}" + "".join(f"{cell:>16}" for cell in cells))
    print(f"{'ingest (both CSVs, validated)':<40}{ingest_s:>15.1f} s")
    print(f"goal ≥ {GOAL:.1%} test accuracy; original project {ORIGINAL:.2%}")


def main(argv: list[str] | None = None) -> None:
    """Ingest the real files once, then train/export/score each requested split in a temporary directory."""
    args = parse_args(argv)
    params = with_overrides(load_params(args.params), args)
    start = time.perf_counter()
    pixels, label_ids, provenance = ingest_sign_language(args.data, "kaggle")
    ingest_s = time.perf_counter() - start
    classes = to_classes(label_ids)
    train_rows = provenance.rows["train"]
    print(f"ingest: {len(classes)} rows ({provenance.rows}) in {ingest_s:.1f} s from {args.data}")
    chosen = SPLITS if args.split == "both" else (args.split,)
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-sign-acc-") as tmp:
        for name in chosen:
            if name == "pooled":
                splits = pooled_splits(pixels, classes, params)
            else:
                splits = kaggle_splits(pixels, classes, train_rows, params)
            results.append(run_split(name, splits, params, provenance, Path(tmp)))
    print_table(results, ingest_s, params)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "params": params.sign_language.model_dump(mode="json", include={"train", "model"}),
            "ingest_s": ingest_s,
            "results": results,
        }
        args.json.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
