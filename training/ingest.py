"""Ingest stage: read a demo's raw files (sample, public or your own copy), validate every row, keep one array file.

Every dataset.npz holds `x` (rows), `y` (class index or target), `labels` (class names, empty for regressors) and
`fold` (0: the data's training file, 1: its test file, 2: a third one). Nothing is written until every file has
passed validation, so a malformed file leaves the previous dataset in place.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from shared.artifact import DataProvenance
from training.demos import Demo, Ingested
from training.io import sha256, write_json, write_npz
from training.params import DataParams
from training.paths import DemoPaths
from training.schema import (
    SchemaAnomalies,
    anomalies,
    file_anomalies,
    infer,
    load_schema,
    profile,
    raw_columns,
    save_schema,
    schema_path,
)
from training.sources import origin

HINTS = {
    "sample": "run `spacesuite data sample`",
    "public": "run `spacesuite data fetch` (it gets the files from their publishers)",
    "kaggle": "copy the real files there (see params.yaml)",
}


def source_folder(paths: DemoPaths, data: DataParams) -> Path:
    """The folder the raw files are read from, by `data.source`."""
    return {"sample": paths.sample_data, "public": paths.public_data}.get(data.source, Path(data.path))


def ingest(demo: Demo, folder: Path, data: DataParams) -> tuple[Ingested, DataProvenance]:
    """Read and validate the raw files of `demo` from `folder`; return the rows and their provenance.

    Raises:
        FileNotFoundError: a file is missing (the message says how to get it).
        DataLayoutError: a row, column or file breaks the layout (named in the message).
    """
    try:
        ingested = demo.read(folder, data)
    except FileNotFoundError as error:
        raise FileNotFoundError(f"{error}: {HINTS[data.source]}") from error
    if len(ingested.files) > 20:  # image folders: one digest of all files keeps provenance.json short
        files = {f"{len(ingested.files)} files under {folder.name}": _digest_of(ingested.files)}
    else:
        files = {path.name: sha256(path) for path in ingested.files}
    provenance = DataProvenance(
        source=data.source,
        description=demo.descriptions[data.source],
        rows=ingested.rows,
        files=files,
        origins=[origin(source) for source in data.public] if data.source == "public" else [],
    )
    return ingested, provenance


def _digest_of(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(f"{path.parent.name}/{path.name}:{sha256(path)}\n".encode())
    return digest.hexdigest()


def refuse(model: str, source: str, path, lines: list[str]) -> SchemaAnomalies:
    """The error that stops ingest: every anomaly on its own line, and how to accept the change."""
    listed = "\n".join(f"  - {line}" for line in lines)
    return SchemaAnomalies(
        f"{model}: the {source} data breaks its schema {path} ({len(lines)} anomal{'y' if len(lines) == 1 else 'ies'}):"
        f"\n{listed}\nIf the change is intended: `spacesuite ingest {model} --accept-schema`, then commit {path}."
    )


def main(demo: Demo, data: DataParams, *, accept_schema: bool = False) -> None:
    """Run the stage for a demo: check the raw files against the kept schema, validate every row, check the rows'
    table against the schema (or accept the new schema), then write dataset.npz and provenance.json (the statistics
    report is the next stage's, `training.statistics`)."""
    paths = DemoPaths(demo.name)
    folder = source_folder(paths, data)
    path = schema_path(demo.name, data.source)
    kept = None if accept_schema else load_schema(path)
    files = raw_columns(folder) if folder.is_dir() else {}
    # a missing or new file or column before the reader, whose message would be less clear; a column that holds text
    # after it, which names the first bad cell's row (one typo is bad data, not a new schema)
    if kept is not None and (lines := file_anomalies(kept, files, types=False)):
        raise refuse(demo.name, data.source, path, lines)
    ingested, provenance = ingest(demo, folder, data)
    table = profile(demo, ingested)
    if kept is None:
        save_schema(infer(table, files), path, model=demo.name, source=data.source)
        why = "accepted (--accept-schema)" if accept_schema else "inferred (none was kept for this source)"
        print(f"ingest {demo.name}: schema {why}: {path}; commit it")
    elif lines := anomalies(kept, table, files):
        raise refuse(demo.name, data.source, path, lines)
    write_npz(
        paths.dataset, x=ingested.x, y=ingested.y, labels=np.array(ingested.labels, dtype=str), fold=ingested.fold
    )
    write_json(paths.provenance, provenance.model_dump())
    print(f"ingest {demo.name}: {len(ingested.y)} rows from {provenance.source} ({', '.join(provenance.files)})")
