"""keras-basics digits: `mnist.npz` (Keras keys), a sample made from scikit-learn's real digits, the Dense network."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image
from pydantic import Field

from shared.errors import DataLayoutError
from shared.images import frame_digit
from training.demos import Demo, Ingested, RealCheck
from training.io import write_npz
from training.params import DataParams, KerasSection, ParityParams, Strict

SIDE = 28
FILE = "mnist.npz"
KEYS = ("x_train", "y_train", "x_test", "y_test")
LABELS = [str(digit) for digit in range(10)]


def read(folder: Path, data: DataParams) -> Ingested:
    """`mnist.npz` (train: fold 0, test: fold 1), every digit framed by `shared.images.frame_digit` as serving
    frames a sketch."""
    path = Path(folder) / FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found")
    arrays = read_npz(path)
    x = frame_all(np.concatenate([arrays["x_train"], arrays["x_test"]]))
    y = np.concatenate([arrays["y_train"], arrays["y_test"]]).astype(np.int64)
    fold = np.repeat(np.array([0, 1], dtype=np.int8), [len(arrays["y_train"]), len(arrays["y_test"])])
    rows = {"train": len(arrays["y_train"]), "test": len(arrays["y_test"])}
    return Ingested(x, y, list(LABELS), fold, [path], rows)


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


def write_sample(folder: Path, data: DigitData, seed: int) -> list[Path]:
    """Write `folder/mnist.npz` from scikit-learn's digits; return the file written."""
    path = Path(folder) / FILE
    write_npz(path, compress=False, **sample_digits(data.sample_test_fraction, seed))
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


# --- the demo ----------------------------------------------------------------------------------------


class DigitData(DataParams):
    """`mnist.npz` with Keras keys; the sample is scikit-learn's real 8×8 digits, scaled to 28×28."""

    sample_test_fraction: float = Field(0.2, gt=0, lt=1, description="sample source only: share written as x_test")


class MlpParams(Strict):
    """A Dense stack: Flatten → hidden layers (relu) → softmax."""

    hidden_units: list[int] = Field(default_factory=lambda: [300, 100], min_length=1)
    api: Literal["sequential", "functional"] = "sequential"


class DigitsParams(KerasSection):
    """keras-basics: the MNIST MLP."""

    data: DigitData
    model: MlpParams
    parity: ParityParams


DEMO = Demo(
    name="digits",
    task="image-classification",
    channels=1,
    framing="digit",
    params=DigitsParams,
    read=read,
    write_sample=write_sample,
    build=lambda section, splits: build_mlp(num_classes=len(splits["labels"]), **section.model.model_dump()),
    descriptions={
        "sample": "scikit-learn's 1,797 real 8×8 handwritten digits, scaled to 28×28 (a small stand-in for MNIST)",
        "kaggle": "MNIST: 70,000 real 28×28 handwritten digits (Keras's mnist.npz)",
        "public": "MNIST: 70,000 real 28×28 handwritten digits, fetched from Keras's own URL",
    },
    tiny={"model": {"hidden_units": [32]}, "train": {"epochs": 10, "batch_size": 64}},
    floor={"accuracy": 0.85},
    real_check=RealCheck(goal={"accuracy": 0.96}, params={"train": {"epochs": 3}}),  # 98 % takes 30 epochs
)
