"""Ingest stage: read a demo's raw files (sample or Kaggle layout), validate every row, keep one array file.

Nothing is written until every file has passed validation, so a malformed file leaves the previous
dataset in place.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from shared.artifact import DataProvenance
from training import sign_language
from training.io import sha256, write_json, write_npz
from training.params import DataParams
from training.paths import DemoPaths

SAMPLE_DESCRIPTION = (
    "generated 28×28 hand-like images (deterministic, not real hand signs), so the pipeline runs offline"
)
KAGGLE_DESCRIPTION = "Sign Language MNIST (Kaggle): 28×28 gray crops of real hand signs"


def source_folder(paths: DemoPaths, data: DataParams) -> Path:
    """The folder the raw files are read from, by `data.source`."""
    return paths.sample_data if data.source == "sample" else Path(data.path)


def ingest_sign_language(folder: Path, source: str) -> tuple[np.ndarray, np.ndarray, DataProvenance]:
    """Read and validate both Kaggle files of `folder`; return pixels, label ids and provenance.

    Raises:
        FileNotFoundError: a file is missing (the message says how to get it).
        DataLayoutError: a row or column breaks the layout (named in the message).
    """
    pixels, labels, files, rows = [], [], {}, {}
    for split, name in sign_language.FILES.items():
        try:
            path = sign_language.find_file(folder, name)
        except FileNotFoundError as error:
            hint = "run `spacesuite data sample`" if source == "sample" else "copy the Kaggle files there"
            raise FileNotFoundError(f"{error}: {hint}") from error
        split_pixels, split_labels = sign_language.read_kaggle_csv(path)
        pixels.append(split_pixels)
        labels.append(split_labels)
        files[path.name] = sha256(path)
        rows[split] = len(split_labels)
    provenance = DataProvenance(
        source=source,  # type: ignore[arg-type]
        description=SAMPLE_DESCRIPTION if source == "sample" else KAGGLE_DESCRIPTION,
        rows=rows,
        files=files,
    )
    return np.concatenate(pixels), np.concatenate(labels), provenance


def main(demo: str, data: DataParams) -> None:
    """Run the stage for `demo`: validate the raw files, then write dataset.npz and provenance.json."""
    paths = DemoPaths(demo)
    pixels, labels, provenance = ingest_sign_language(source_folder(paths, data), data.source)
    write_npz(paths.dataset, pixels=pixels, labels=labels)
    write_json(paths.provenance, provenance.model_dump())
    print(f"ingest {demo}: {len(labels)} rows from {provenance.source} ({', '.join(provenance.files)})")
