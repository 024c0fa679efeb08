"""Prepare stage: a stratified, seeded train/val/test split, with labels as class indices."""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import train_test_split

from training import sign_language
from training.io import write_json, write_npz
from training.params import SplitParams
from training.paths import DemoPaths


def split_stratified(
    features: np.ndarray, targets: np.ndarray, split: SplitParams, seed: int
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Split rows into train/val/test by `split` fractions, keeping every class's share in each part."""
    x_train, x_rest, y_train, y_rest = train_test_split(
        features, targets, train_size=split.train, stratify=targets, random_state=seed
    )
    test_share = split.test / (split.val + split.test)
    x_val, x_test, y_val, y_test = train_test_split(
        x_rest, y_rest, test_size=test_share, stratify=y_rest, random_state=seed
    )
    return {"train": (x_train, y_train), "val": (x_val, y_val), "test": (x_test, y_test)}


def main(demo: str, split: SplitParams, seed: int) -> None:
    """Run the stage for `demo`: read dataset.npz, write splits.npz and the split sizes."""
    paths = DemoPaths(demo)
    with np.load(paths.dataset) as dataset:
        pixels, label_ids = dataset["pixels"], dataset["labels"]
    class_of_label = {label: index for index, label in enumerate(sign_language.LABEL_IDS)}
    classes = np.array([class_of_label[int(label)] for label in label_ids], dtype=np.int64)
    parts = split_stratified(pixels, classes, split, seed)
    arrays = {f"{kind}_{name}": array for name, pair in parts.items() for kind, array in zip("xy", pair, strict=True)}
    write_npz(paths.splits, labels=np.array(sign_language.LETTERS), **arrays)
    sizes = {name: len(pair[1]) for name, pair in parts.items()}
    write_json(paths.splits.with_name("sizes.json"), sizes)
    print(f"prepare {demo}: " + ", ".join(f"{name} {size}" for name, size in sizes.items()))
