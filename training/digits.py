"""keras-basics digits: `mnist.npz` (Keras keys), a sample made from scikit-learn's real digits, the Dense network."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

from shared.errors import DataLayoutError
from shared.images import frame_digit
from training.io import write_npz

SIDE = 28
FILE = "mnist.npz"
KEYS = ("x_train", "y_train", "x_test", "y_test")
LABELS = [str(digit) for digit in range(10)]


def read_npz(path: Path) -> dict[str, np.ndarray]:
    """Read and check `mnist.npz`: uint8 images (N, 28, 28) and labels 0..9 for train and test.

    Raises:
        FileNotFoundError: the file is missing.
        DataLayoutError: a key is missing, or shapes, dtypes or labels are wrong (named in the message).
    """
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [key for key in KEYS if key not in archive.files]
            if missing:
                raise DataLayoutError(f"{path}: missing arrays {missing} (expected Keras keys {list(KEYS)})")
            arrays = {key: archive[key] for key in KEYS}
    except (zipfile.BadZipFile, ValueError, OSError) as error:
        if isinstance(error, FileNotFoundError):
            raise
        raise DataLayoutError(f"{path}: not a readable .npz file ({error})") from error
    for split in ("train", "test"):
        images, labels = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if images.ndim != 3 or images.shape[1:] != (SIDE, SIDE):
            raise DataLayoutError(f"{path}: x_{split} has shape {images.shape}, expected (N, {SIDE}, {SIDE})")
        if labels.shape != (len(images),):
            raise DataLayoutError(f"{path}: y_{split} has shape {labels.shape}, expected ({len(images)},)")
        if images.dtype != np.uint8:
            raise DataLayoutError(f"{path}: x_{split} is {images.dtype}, expected uint8 pixels 0..255")
        bad = np.flatnonzero((labels < 0) | (labels > 9))
        if bad.size:
            raise DataLayoutError(f"{path}: y_{split} row {bad[0]} is {labels[bad[0]]}, expected a digit 0..9")
    return arrays


def frame_all(images: np.ndarray) -> np.ndarray:
    """`shared.images.frame_digit` applied to every image (blank images stay blank)."""
    framed = np.zeros_like(images)
    for index, image in enumerate(images):
        if image.max() > 40:
            framed[index] = frame_digit(image, side=SIDE)
    return framed


def sample_digits(test_fraction: float, seed: int) -> dict[str, np.ndarray]:
    """scikit-learn's 1,797 real 8×8 digits, scaled up and framed like MNIST, split into train and test."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = np.empty((len(digits.images), SIDE, SIDE), dtype=np.uint8)
    for index, small in enumerate(digits.images):
        scaled = Image.fromarray((small * (255 / 16)).round().astype(np.uint8)).resize(
            (20, 20), Image.Resampling.BICUBIC
        )
        images[index] = frame_digit(np.asarray(scaled), side=SIDE)
    order = np.random.default_rng(seed).permutation(len(images))
    cut = round(len(images) * (1 - test_fraction))
    train, test = order[:cut], order[cut:]
    labels = digits.target.astype(np.uint8)
    return {"x_train": images[train], "y_train": labels[train], "x_test": images[test], "y_test": labels[test]}


def write_sample(folder: Path, *, test_fraction: float, seed: int) -> list[Path]:
    """Write `folder/mnist.npz` from scikit-learn's digits; return the file written."""
    path = Path(folder) / FILE
    write_npz(path, compress=False, **sample_digits(test_fraction, seed))
    return [path]


def build_mlp(*, num_classes: int, hidden_units: list[int], api: str):
    """Flatten → Dense(relu) per entry of `hidden_units` → softmax, with the Sequential or Functional API.

    Input: (28, 28, 1) floats in [0, 1] (`shared.images.normalize`).
    """
    import keras

    if api == "sequential":
        layers = [keras.Input((SIDE, SIDE, 1), name="pixels"), keras.layers.Flatten()]
        layers += [keras.layers.Dense(units, activation="relu") for units in hidden_units]
        layers.append(keras.layers.Dense(num_classes, activation="softmax", name="probabilities"))
        return keras.Sequential(layers, name="digits")
    pixels = keras.Input((SIDE, SIDE, 1), name="pixels")
    hidden = keras.layers.Flatten()(pixels)
    for units in hidden_units:
        hidden = keras.layers.Dense(units, activation="relu")(hidden)
    probabilities = keras.layers.Dense(num_classes, activation="softmax", name="probabilities")(hidden)
    return keras.Model(pixels, probabilities, name="digits")
