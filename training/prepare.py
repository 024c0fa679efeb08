"""Prepare stage: a seeded train/val/test split (stratified for classifiers)."""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import train_test_split

from training.io import write_json, write_npz
from training.models import model_info
from training.params import SplitParams
from training.paths import DemoPaths


def split_rows(
    features: np.ndarray,
    targets: np.ndarray,
    split: SplitParams,
    seed: int,
    *,
    stratify: bool = True,
    fold: np.ndarray | None = None,
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Split rows into train/val/test by `split` fractions.

    Classifiers keep every class's share in each part (`stratify`). With `split.keep_file_test` and a
    `fold` array, rows of the data's own test file (fold 1) are the test split and the rest is shared
    between train and val in the ratio train:val.
    """
    if split.keep_file_test and fold is not None and np.any(fold == 1):
        test = fold == 1
        x_train, x_val, y_train, y_val = train_test_split(
            features[~test],
            targets[~test],
            test_size=split.val / (split.train + split.val),
            stratify=targets[~test] if stratify else None,
            random_state=seed,
        )
        return {"train": (x_train, y_train), "val": (x_val, y_val), "test": (features[test], targets[test])}
    x_train, x_rest, y_train, y_rest = train_test_split(
        features, targets, train_size=split.train, stratify=targets if stratify else None, random_state=seed
    )
    test_share = split.test / (split.val + split.test)
    x_val, x_test, y_val, y_test = train_test_split(
        x_rest, y_rest, test_size=test_share, stratify=y_rest if stratify else None, random_state=seed
    )
    return {"train": (x_train, y_train), "val": (x_val, y_val), "test": (x_test, y_test)}


def main(model: str, split: SplitParams, seed: int) -> None:
    """Run the stage for `model`: read dataset.npz, write splits.npz and the split sizes."""
    paths = DemoPaths(model)
    with np.load(paths.dataset) as dataset:
        x, y, labels, fold = dataset["x"], dataset["y"], dataset["labels"], dataset["fold"]
    parts = split_rows(x, y, split, seed, stratify=model_info(model).is_classifier, fold=fold)
    arrays = {f"{kind}_{name}": array for name, pair in parts.items() for kind, array in zip("xy", pair, strict=True)}
    write_npz(paths.splits, labels=labels, **arrays)
    sizes = {name: len(pair[1]) for name, pair in parts.items()}
    write_json(paths.splits.with_name("sizes.json"), sizes)
    print(f"prepare {model}: " + ", ".join(f"{name} {size}" for name, size in sizes.items()))
