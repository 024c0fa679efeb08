"""Prepare stage: a seeded train/val/test split (stratified for classifiers)."""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import train_test_split

from shared.text import TextSteps, Vocabulary, check_text, tokenize
from training.demos import Demo
from training.io import write_json, write_npz
from training.params import PrepareParams, TextParams
from training.paths import DemoPaths

FOLDS = ("train", "val", "test")


def split_rows(
    features: np.ndarray,
    targets: np.ndarray,
    split: PrepareParams,
    seed: int,
    *,
    stratify: bool = True,
    fold: np.ndarray | None = None,
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Split rows into train/val/test by `split` fractions.

    Classifiers keep every class's share in each part (`stratify`). With `split.keep_file_test` and a
    `fold` array, rows of the data's own test file are the test split: with folds 0/1 (train, test
    files) the train file is shared between train and val in the ratio train:val; with folds 0/1/2
    (train, val, test files) each file is its split.
    """
    if split.keep_file_test and fold is not None and np.any(fold == 2):  # the data's own train, val and test files
        return {name: (features[fold == index], targets[fold == index]) for index, name in enumerate(FOLDS)}
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


def split_indices(
    targets: np.ndarray, split: PrepareParams, seed: int, *, stratify: bool = True, fold: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """Row numbers of each part of `split_rows`' split of these rows (the same seeded split, by index)."""
    parts = split_rows(np.arange(len(targets)), targets, split, seed, stratify=stratify, fold=fold)
    return {name: rows for name, (rows, _) in parts.items()}


def encode_texts(
    parts: dict[str, tuple[np.ndarray, np.ndarray]], text: TextParams
) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], Vocabulary]:
    """Token ids for every text (`shared.text` steps), with a vocabulary built from the train split only."""
    steps = TextSteps(lowercase=text.lowercase, remove_stopwords=text.remove_stopwords, stem=text.stem)
    tokens = {name: [tokenize(check_text(str(row)), steps) for row in x] for name, (x, _) in parts.items()}
    vocabulary = Vocabulary.build(tokens["train"], text.max_tokens)
    encoded = {name: (vocabulary.encode_batch(tokens[name], text.sequence_length), y) for name, (_, y) in parts.items()}
    return encoded, vocabulary


def main(demo: Demo, section, seed: int) -> None:
    """Run the stage for a demo: read dataset.npz, write splits.npz and the split sizes (and, for a text
    classifier, the vocabulary of `section.text`; the raw test texts are kept as `text_test` for examples)."""
    paths = DemoPaths(demo.name)
    with np.load(paths.dataset) as dataset:
        x, y, labels, fold = dataset["x"], dataset["y"], dataset["labels"], dataset["fold"]
    parts = split_rows(x, y, section.prepare, seed, stratify=demo.is_classifier, fold=fold)
    extra: dict[str, np.ndarray] = {}
    if demo.task == "text-classification":
        text: TextParams = section.prepare.text
        extra["text_test"] = parts["test"][0]
        parts, vocabulary = encode_texts(parts, text)
        vocabulary.save(paths.vocabulary)
        write_json(paths.text_steps, text.model_dump(include={"lowercase", "remove_stopwords", "stem"}))
        extra["vocab_size"] = np.array(len(vocabulary))
    arrays = {f"{kind}_{name}": array for name, pair in parts.items() for kind, array in zip("xy", pair, strict=True)}
    write_npz(paths.splits, labels=labels, **arrays, **extra)
    sizes = {name: len(pair[1]) for name, pair in parts.items()}
    write_json(paths.splits.with_name("sizes.json"), sizes)
    print(f"prepare {demo.name}: " + ", ".join(f"{name} {size}" for name, size in sizes.items()))
