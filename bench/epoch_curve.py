"""Val and test scores after every epoch of one Keras classifier's train stage on real files.

What it measures: the files in ``--data`` are read as the ingest stage reads them, split and encoded as the
prepare stage does (``training.prepare``), and trained by the train stage's own code (``training.train.fit``:
same seed, shuffling, class weights and early stopping) with ``params.yaml`` plus any ``--set key=value``
overrides (keys of the model's section). After each epoch it scores the val and test splits (accuracy, macro-F1)
and prints one line. Since the optimizer's rate does not change with the epoch count, epoch k here is the model a
run with ``train.epochs: k`` ends with; with ``train.early_stopping_patience`` set, the train stage keeps the
epoch of lowest val loss up to k, marked ``kept``. One run shows the whole curve, where ``bench/real_data.py``
gives one point per run (and adds the export and TFLite parity). Rank epoch counts on the val columns; the test
columns are for the report. Nothing is written inside the repository (except ``--json`` if asked).

Run from the repository root (dair-ai's files: about 2 minutes per epoch at 128 LSTM units on 2 idle cores)::

    .venv/bin/python bench/epoch_curve.py emotion --data ../shared/datasets/emotion --set train.epochs=4 --seed 1
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pipeline_walltime import REPO
from real_data import set_param

sys.path.insert(0, str(REPO))
from training.demos import Demo, demo, names
from training.ingest import ingest
from training.params import Params
from training.prepare import encode_texts, split_rows
from training.train import TrainingRun, fit


def load_section(model: str, overrides: list[str]) -> Any:
    """The model's validated params section from params.yaml (real files: `data.source: kaggle`) with `key=value`
    overrides of that section."""
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    found = demo(model)
    raw[found.section]["data"]["source"] = "kaggle"  # your own copy of the real files, in --data
    for override in overrides:
        key, value = override.split("=", 1)
        set_param(raw[found.section], key, value)
    return Params.model_validate(raw).model(model)


def real_splits(found: Demo, section: Any, folder: Path, seed: int) -> dict[str, np.ndarray]:
    """The arrays the prepare stage would write to splits.npz for the files in `folder`."""
    ingested, _ = ingest(found, folder, section.data)
    parts = split_rows(ingested.x, ingested.y, section.prepare, seed, stratify=True, fold=ingested.fold)
    extra: dict[str, np.ndarray] = {}
    if found.task == "text-classification":
        parts, vocabulary = encode_texts(parts, section.prepare.text)
        extra["vocab_size"] = np.array(len(vocabulary))
    arrays = {f"{kind}_{name}": array for name, pair in parts.items() for kind, array in zip("xy", pair, strict=True)}
    return {"labels": np.array(ingested.labels), **arrays, **extra}


def curve(found: Demo, section: Any, splits: dict[str, np.ndarray], seed: int) -> list[dict[str, float]]:
    """Train as the train stage does, scoring val and test after each epoch; one row per epoch (printed too)."""
    import keras
    from sklearn.metrics import accuracy_score, f1_score

    rows: list[dict[str, float]] = []
    started = time.perf_counter()

    class ScoreEachEpoch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            row: dict[str, float] = {"epoch": epoch + 1, "val_loss": float((logs or {})["val_loss"])}
            for split in ("val", "test"):
                predicted = self.model.predict(found.inputs(splits[f"x_{split}"]), verbose=0).argmax(axis=1)
                row[f"{split}_accuracy"] = float(accuracy_score(splits[f"y_{split}"], predicted))
                row[f"{split}_f1_macro"] = float(f1_score(splits[f"y_{split}"], predicted, average="macro"))
            row["elapsed_s"] = time.perf_counter() - started
            rows.append(row)
            print_row(row, rows, section.train.early_stopping_patience)

    def fit_scoring(run: TrainingRun) -> None:
        run.compile(section.train.learning_rate)
        run.fit(section.train.epochs, extra=[ScoreEachEpoch()])

    fit(dataclasses.replace(found, fit=fit_scoring), section, splits, seed=seed, live_dir=None)
    return rows


def print_row(row: dict[str, float], rows: list[dict[str, float]], patience: int) -> None:
    """One epoch's line; `kept` when the train stage would end on this epoch's weights at `epochs: k`."""
    kept = patience and min(rows, key=lambda each: each["val_loss"]) is row
    print(
        f"epoch {row['epoch']:>2}: val loss {row['val_loss']:.4f}, val F1 {row['val_f1_macro']:.4f} "
        f"acc {row['val_accuracy']:.4f} | test F1 {row['test_f1_macro']:.4f} acc {row['test_accuracy']:.4f} "
        f"| {row['elapsed_s']:.0f} s{'  kept' if kept else ''}",
        flush=True,
    )


def main(argv: list[str] | None = None) -> None:
    """Parse options, train and print the curve (and optionally save it)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", choices=names())
    parser.add_argument("--data", type=Path, required=True, help="folder holding the real files")
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="section override key=value")
    parser.add_argument("--seed", type=int, default=42, help="base.seed: initialisation and shuffling")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON here")
    args = parser.parse_args(argv)
    found = demo(args.model)
    if not found.is_classifier or found.framework != "keras":
        parser.error(f"{args.model} is not a Keras classifier")
    section = load_section(args.model, args.overrides)
    rows = curve(found, section, real_splits(found, section, args.data, args.seed), args.seed)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"overrides": args.overrides, "seed": args.seed, "epochs": rows}, indent=2))


if __name__ == "__main__":
    main()
