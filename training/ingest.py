"""Ingest stage: read a model's raw files (sample or Kaggle layout), validate every row, keep one array file.

Every model's dataset.npz holds `x` (rows), `y` (class index or target), `labels` (class names, empty
for regressors) and `fold` (0: the data's training file, 1: its test file). Nothing is written until
every file has passed validation, so a malformed file leaves the previous dataset in place.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from shared.artifact import DataProvenance
from training import birds, digits, emotion, gender, housing, sign_language
from training.io import sha256, write_json, write_npz
from training.params import BirdData, DataParams, DigitData, EmotionData, GenderData, HousingData, SignLanguageData
from training.paths import DemoPaths
from training.sources import origin

DESCRIPTIONS = {
    ("sign-language", "sample"): "generated 28×28 hand-like images (deterministic, not real hand signs), "
    "so the pipeline runs offline",
    ("sign-language", "kaggle"): "Sign Language MNIST (Kaggle): 28×28 gray crops of real hand signs",
    ("bird-species", "sample"): "generated parrot-like drawings of 4 species (deterministic, not photos), "
    "so the pipeline runs offline",
    ("bird-species", "kaggle"): "Birds dataset (Kaggle): photos of 4 parrot species (JPEG, PNG and WebP)",
    ("digits", "sample"): "scikit-learn's 1,797 real 8×8 handwritten digits, scaled to 28×28 "
    "(a small stand-in for MNIST)",
    ("digits", "kaggle"): "MNIST: 70,000 real 28×28 handwritten digits (Keras's mnist.npz)",
    ("housing", "sample"): "generated California-like block groups (deterministic, prices made up), "
    "so the pipeline runs offline",
    ("housing", "kaggle"): "California housing (1990 census): 20,640 block groups",
    ("emotion", "sample"): "generated English sentences for 6 emotions (deterministic, templates), "
    "so the pipeline runs offline",
    ("emotion", "kaggle"): "dair-ai emotion: 20,000 English tweets labelled with 6 emotions",
    ("gender", "sample"): "generated rows of 7 facial measurements (deterministic, made up), "
    "so the pipeline runs offline",
    ("gender", "kaggle"): "Gender classification (Kaggle, v7): 7 facial measurements of 5,001 people",
    ("sign-language", "public"): "Sign Language MNIST, fetched from Kaggle (datamunge): 28×28 gray crops of real "
    "hand signs",
    ("bird-species", "public"): "Birds dataset from the original project's repository: photos of 4 parrot species",
    ("digits", "public"): "MNIST: 70,000 real 28×28 handwritten digits, fetched from Keras's own URL",
    ("housing", "public"): "California housing (1990 census): 20,640 block groups, fetched from scikit-learn's URL",
    ("emotion", "public"): "dair-ai emotion, fetched from the Hugging Face Hub: 20,000 English tweets, 6 emotions",
    ("gender", "public"): "Gender classification, fetched from Kaggle: 7 facial measurements of 5,001 people",
}


@dataclass
class Ingested:
    """One model's validated rows and where they came from."""

    x: np.ndarray
    y: np.ndarray
    labels: list[str]
    fold: np.ndarray
    files: list[Path]
    rows: dict[str, int]


def source_folder(paths: DemoPaths, data: DataParams) -> Path:
    """The folder the raw files are read from, by `data.source`."""
    return {"sample": paths.sample_data, "public": paths.public_data}.get(data.source, Path(data.path))


HINTS = {
    "sample": "run `spacesuite data sample`",
    "public": "run `spacesuite data fetch` (it gets the files from their publishers)",
    "kaggle": "copy the Kaggle files there (see params.yaml)",
}


def _missing(error: FileNotFoundError, source: str) -> FileNotFoundError:
    return FileNotFoundError(f"{error}: {HINTS[source]}")


def ingest_sign_language(folder: Path, data: SignLanguageData) -> Ingested:
    """Both Sign Language MNIST files; Kaggle label ids become class indices 0..23."""
    pixels, classes, folds, files, rows = [], [], [], [], {}
    class_of_label = {label: index for index, label in enumerate(sign_language.LABEL_IDS)}
    for fold, (split, name) in enumerate(sign_language.FILES.items()):
        path = sign_language.find_file(folder, name)
        split_pixels, label_ids = sign_language.read_kaggle_csv(path)
        pixels.append(split_pixels)
        classes.append(np.array([class_of_label[int(label)] for label in label_ids], dtype=np.int64))
        folds.append(np.full(len(label_ids), fold, dtype=np.int8))
        files.append(path)
        rows[split] = len(label_ids)
    x, y, fold = np.concatenate(pixels), np.concatenate(classes), np.concatenate(folds)
    return Ingested(x, y, list(sign_language.LETTERS), fold, files, rows)


def ingest_birds(folder: Path, data: BirdData) -> Ingested:
    """Every image of `Birds dataset/<class>/`, decoded whatever its format and resized to `image_size`."""
    pixels, classes, names, files, skipped = birds.read_folder(folder, data.image_size)
    for path in skipped:
        print(f"ingest bird-species: skipped {path} (not an image file name)")
    rows = {name: int(np.sum(classes == index)) for index, name in enumerate(names)}
    return Ingested(pixels, classes, names, np.zeros(len(classes), dtype=np.int8), files, rows)


def ingest_digits(folder: Path, data: DigitData) -> Ingested:
    """`mnist.npz`, every digit framed by `shared.images.frame_digit` as serving frames a sketch."""
    path = folder / digits.FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found")
    arrays = digits.read_npz(path)
    x = digits.frame_all(np.concatenate([arrays["x_train"], arrays["x_test"]]))
    y = np.concatenate([arrays["y_train"], arrays["y_test"]]).astype(np.int64)
    fold = np.repeat(np.array([0, 1], dtype=np.int8), [len(arrays["y_train"]), len(arrays["y_test"])])
    rows = {"train": len(arrays["y_train"]), "test": len(arrays["y_test"])}
    return Ingested(x, y, list(digits.LABELS), fold, [path], rows)


def ingest_housing(folder: Path, data: HousingData) -> Ingested:
    """`housing.csv` (or the scikit-learn cache) as scikit-learn's 8 features and the price in $100,000."""
    path = housing.find_source(folder)
    x, y, dropped = housing.read_source(path)
    if dropped:
        print(f"ingest housing: dropped {dropped} rows of {path.name} with an empty total_bedrooms")
    rows = {"rows": len(y), "dropped": dropped}
    return Ingested(x, y, [], np.zeros(len(y), dtype=np.int8), [path], rows)


def ingest_gender(folder: Path, data: GenderData) -> Ingested:
    """`gender_classification_v7.csv`: 7 features and the class (1 = Male), whichever target column it has."""
    path = gender.find_file(folder)
    x, y = gender.read_csv(path)
    rows = {label: int(np.sum(y == index)) for index, label in enumerate(gender.LABELS)}
    return Ingested(x, y, list(gender.LABELS), np.zeros(len(y), dtype=np.int8), [path], rows)


def ingest_emotion(folder: Path, data: EmotionData) -> Ingested:
    """dair-ai's three files (fold 0 train, 1 val, 2 test) or Kaggle's `text.csv` (fold 0), texts kept as is."""
    texts, labels, folds, rows = emotion.read_folder(folder)
    files = [folder / name for name in rows]
    return Ingested(np.array(texts, dtype=str), labels, list(emotion.LABELS), folds, files, rows)


INGESTERS: dict[str, Callable[[Path, DataParams], Ingested]] = {
    "sign-language": ingest_sign_language,  # type: ignore[dict-item]
    "bird-species": ingest_birds,  # type: ignore[dict-item]
    "digits": ingest_digits,  # type: ignore[dict-item]
    "housing": ingest_housing,  # type: ignore[dict-item]
    "gender": ingest_gender,  # type: ignore[dict-item]
    "emotion": ingest_emotion,  # type: ignore[dict-item]
}


def ingest(model: str, folder: Path, data: DataParams) -> tuple[Ingested, DataProvenance]:
    """Read and validate the raw files of `model` from `folder`; return the rows and their provenance.

    Raises:
        FileNotFoundError: a file is missing (the message says how to get it).
        DataLayoutError: a row, column or file breaks the layout (named in the message).
    """
    try:
        ingested = INGESTERS[model](folder, data)
    except FileNotFoundError as error:
        raise _missing(error, data.source) from error
    if len(ingested.files) > 20:  # image folders: one digest of all files keeps provenance.json short
        files = {f"{len(ingested.files)} files under {folder.name}": _digest_of(ingested.files)}
    else:
        files = {path.name: sha256(path) for path in ingested.files}
    provenance = DataProvenance(
        source=data.source,
        description=DESCRIPTIONS[(model, data.source)],
        rows=ingested.rows,
        files=files,
        origins=[origin(source) for source in data.public] if data.source == "public" else [],
    )
    return ingested, provenance


def _digest_of(paths: list[Path]) -> str:
    import hashlib

    digest = hashlib.sha256()
    for path in paths:
        digest.update(f"{path.parent.name}/{path.name}:{sha256(path)}\n".encode())
    return digest.hexdigest()


def main(model: str, data: DataParams) -> None:
    """Run the stage for `model`: validate the raw files, then write dataset.npz and provenance.json."""
    paths = DemoPaths(model)
    ingested, provenance = ingest(model, source_folder(paths, data), data)
    write_npz(
        paths.dataset, x=ingested.x, y=ingested.y, labels=np.array(ingested.labels, dtype=str), fold=ingested.fold
    )
    write_json(paths.provenance, provenance.model_dump())
    print(f"ingest {model}: {len(ingested.y)} rows from {provenance.source} ({', '.join(provenance.files)})")
