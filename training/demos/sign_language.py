"""Sign-language MNIST: its letters, the Kaggle CSV layout, a deterministic sample generator, the CNN."""

from __future__ import annotations

import string
from pathlib import Path

import numpy as np
from pydantic import Field

from training.demos import Demo, Ingested
from training.params import DataParams, KerasSection, ParityParams, Strict
from training.tabular import read_csv_checked

SIDE = 28
PIXEL_COLUMNS = [f"pixel{i}" for i in range(1, SIDE * SIDE + 1)]
COLUMNS = ["label", *PIXEL_COLUMNS]
# Kaggle's label ids are letter positions 0..24; J (9) and Z (25) need motion and are absent.
LABEL_IDS = [i for i in range(25) if i != 9]
LETTERS = [string.ascii_uppercase[i] for i in LABEL_IDS]
FILES = {"train": "sign_mnist_train.csv", "test": "sign_mnist_test.csv"}


# --- the Kaggle layout -------------------------------------------------------------------------------


def read(folder: Path, data: DataParams) -> Ingested:
    """Both Sign Language MNIST files (train: fold 0, test: fold 1); Kaggle label ids become class indices 0..23."""
    pixels, classes, folds, files, rows = [], [], [], [], {}
    class_of_label = {label: index for index, label in enumerate(LABEL_IDS)}
    for fold, (split, name) in enumerate(FILES.items()):
        path = find_file(folder, name)
        split_pixels, label_ids = read_kaggle_csv(path)
        pixels.append(split_pixels)
        classes.append(np.array([class_of_label[int(label)] for label in label_ids], dtype=np.int64))
        folds.append(np.full(len(label_ids), fold, dtype=np.int8))
        files.append(path)
        rows[split] = len(label_ids)
    return Ingested(np.concatenate(pixels), np.concatenate(classes), list(LETTERS), np.concatenate(folds), files, rows)


def find_file(folder: Path, name: str) -> Path:
    """Return `folder/name`, or its `.gz` twin; raise FileNotFoundError naming both when neither exists."""
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"{folder / name} (or {name}.gz) not found")


def read_kaggle_csv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read one `label,pixel1..pixel784` file into pixels (N, 28, 28) uint8 and label ids (N,).

    Raises:
        DataLayoutError: wrong header, a ragged row, a non-integer cell, a pixel outside 0..255 or a
            label outside Kaggle's ids; the message names the file, the row and the column.
    """
    frame = read_csv_checked(
        path,
        columns=COLUMNS,
        ranges={"label": (0, 24), **dict.fromkeys(PIXEL_COLUMNS, (0, 255))},
        allowed={"label": set(LABEL_IDS)},
    )
    labels = frame["label"].to_numpy(dtype=np.int64)
    pixels = frame[PIXEL_COLUMNS].to_numpy(dtype=np.uint8).reshape(-1, SIDE, SIDE)
    return pixels, labels


def write_kaggle_csv(path: Path, pixels: np.ndarray, labels: np.ndarray) -> None:
    """Write pixels (N, 28, 28) and label ids in Kaggle's exact CSV layout."""
    rows = np.column_stack([labels.astype(np.int64), pixels.reshape(len(pixels), -1).astype(np.int64)])
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savetxt(path, rows, fmt="%d", delimiter=",", header=",".join(COLUMNS), comments="")


# --- deterministic sample data -----------------------------------------------------------------------

# Finger base points on the palm (x, y in a unit hand frame) and their rest angles (degrees from up).
_FINGER_BASES = np.array([[-0.42, 0.10], [-0.22, -0.30], [-0.02, -0.36], [0.18, -0.32], [0.36, -0.20]])
_FINGER_ANGLES = np.array([-60.0, -12.0, 0.0, 10.0, 24.0])
_FINGER_LENGTHS = np.array([0.42, 0.62, 0.68, 0.62, 0.50])


def _class_poses() -> list[tuple[np.ndarray, float]]:
    """24 distinct hand poses: a pattern of extended fingers (5-bit code 1..24) and a tilt of the hand."""
    return [
        (np.array([(code >> bit) & 1 for bit in range(5)], dtype=bool), (-18.0, 0.0, 18.0)[code % 3])
        for code in range(1, 25)
    ]


def _segment_distance(px: np.ndarray, py: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Distance from each grid point to the segment start-end."""
    direction = end - start
    t = ((px - start[0]) * direction[0] + (py - start[1]) * direction[1]) / float(direction @ direction)
    t = np.clip(t, 0.0, 1.0)
    return np.hypot(px - (start[0] + t * direction[0]), py - (start[1] + t * direction[1]))


def _render_hand(extended: np.ndarray, tilt: float, rng: np.random.Generator) -> np.ndarray:
    """Render one 28×28 gray hand in a random pose jitter, lighting and background."""
    angle = np.deg2rad(tilt + rng.normal(0.0, 6.0))
    scale = rng.uniform(0.85, 1.1)
    shift = rng.uniform(-0.08, 0.08, size=2)
    coords = (np.arange(SIDE) + 0.5) / SIDE * 2.0 - 1.0
    gx, gy = np.meshgrid(coords, coords)
    # map image coordinates back into the hand's own frame
    cos, sin = np.cos(angle), np.sin(angle)
    hx = (cos * (gx - shift[0]) + sin * (gy - shift[1])) / (scale * 1.15)
    hy = (-sin * (gx - shift[0]) + cos * (gy - shift[1])) / (scale * 1.15) + 0.05
    palm = np.hypot(hx / 0.48, (hy - 0.22) / 0.42)
    shape = np.clip((1.0 - palm) * 6.0, 0.0, 1.0)
    for base, rest, length, up in zip(_FINGER_BASES, _FINGER_ANGLES, _FINGER_LENGTHS, extended, strict=True):
        reach = length if up else length * 0.28
        theta = np.deg2rad(rest + rng.normal(0.0, 4.0))
        tip = base + reach * np.array([np.sin(theta), -np.cos(theta)])
        finger = np.clip((0.095 - _segment_distance(hx, hy, base, tip)) * 30.0, 0.0, 1.0)
        shape = np.maximum(shape, finger)
    skin = rng.uniform(150, 230)
    light = 1.0 + 0.25 * (gx * rng.uniform(-1, 1) + gy * rng.uniform(-1, 1))
    background = rng.uniform(20, 120) + 30.0 * (gx * rng.uniform(-1, 1) + gy * rng.uniform(-1, 1))
    image = shape * skin * light + (1.0 - shape) * background + rng.normal(0.0, 6.0, size=shape.shape)
    return np.clip(image, 0, 255).round().astype(np.uint8)


def generate_sample(per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Make `per_class` images of each of the 24 letters, deterministic for a seed.

    Returns pixels (N, 28, 28) uint8 and Kaggle label ids (N,), in a shuffled order.
    """
    rng = np.random.default_rng(seed)
    poses = _class_poses()
    labels = np.repeat(np.array(LABEL_IDS), per_class)
    rng.shuffle(labels)
    pixels = np.stack([_render_hand(*poses[LABEL_IDS.index(label)], rng) for label in labels])
    return pixels, labels


def write_sample(folder: Path, data: SignLanguageData, seed: int) -> list[Path]:
    """Write sample `sign_mnist_train.csv` and `sign_mnist_test.csv` into `folder`; return their paths."""
    paths = []
    sizes = (("train", data.sample_train_per_class), ("test", data.sample_test_per_class))
    for offset, (split, per_class) in enumerate(sizes):
        pixels, labels = generate_sample(per_class, seed + offset)
        path = folder / FILES[split]
        write_kaggle_csv(path, pixels, labels)
        paths.append(path)
    return paths


# --- the model ---------------------------------------------------------------------------------------


def build_cnn(
    *, num_classes: int, conv_filters: list[int], kernel_size: int, dense_units: int, dropout: float
):  # -> keras.Model (keras is imported lazily: this module is also used without TensorFlow)
    """The original project's CNN: (Conv-ReLU-MaxPool) × n, Flatten, Dense, Dropout, softmax."""
    import keras

    inputs = keras.Input(shape=(SIDE, SIDE, 1), name="pixels")
    x = inputs
    for filters in conv_filters:
        x = keras.layers.Conv2D(filters, kernel_size, activation="relu", padding="same")(x)
        x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(dense_units, activation="relu")(x)
    x = keras.layers.Dropout(dropout)(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="sign_language_cnn")


# --- the demo ----------------------------------------------------------------------------------------


class SignLanguageData(DataParams):
    """Sign-language MNIST files; sizes of the generated sample."""

    sample_train_per_class: int = Field(100, ge=5, description="sample source only: rows per letter (train file)")
    sample_test_per_class: int = Field(25, ge=2, description="... and in the test file")


class CnnParams(Strict):
    """Layer sizes of the small image CNN."""

    conv_filters: list[int] = Field(default_factory=lambda: [32, 64], min_length=1)
    kernel_size: int = Field(3, ge=1)
    dense_units: int = Field(128, ge=1)
    dropout: float = Field(0.3, ge=0, lt=1)


class SignLanguageParams(KerasSection):
    """The sign-language CNN."""

    data: SignLanguageData
    model: CnnParams
    parity: ParityParams


DEMO = Demo(
    name="sign-language",
    task="image-classification",
    channels=1,
    params=SignLanguageParams,
    read=read,
    write_sample=write_sample,
    build=lambda section, splits: build_cnn(num_classes=len(splits["labels"]), **section.model.model_dump()),
    descriptions={
        "sample": "generated 28×28 hand-like images (deterministic, not real hand signs), so the pipeline runs offline",
        "kaggle": "Sign Language MNIST (Kaggle): 28×28 gray crops of real hand signs",
        "public": "Sign Language MNIST, fetched from Kaggle (datamunge): 28×28 gray crops of real hand signs",
    },
    tiny={
        "data": {"sample_train_per_class": 30, "sample_test_per_class": 6},
        "train": {"epochs": 20, "batch_size": 32, "learning_rate": 0.002},
        "parity": {"min_agreement": 0.9, "min_agreement_quantized": 0.8},
    },
    floor={"accuracy": 0.8},
)
