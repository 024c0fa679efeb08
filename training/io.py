"""Small file helpers the stages share: atomic writes so a failed run never leaves half a file."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np


def _atomic_path(path: Path) -> tuple[int, Path]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    return fd, Path(tmp)


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (a temporary file renamed over the target)."""
    fd, tmp = _atomic_path(Path(path))
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, sort_keys=True)
        handle.write("\n")
    tmp.replace(path)


def read_json(path: Path) -> Any:
    """Read a JSON file."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def write_npz(path: Path, *, compress: bool = True, **arrays: np.ndarray) -> None:
    """Write arrays as an .npz atomically, its bytes depending only on the arrays.

    `np.savez` stamps every zip entry with the current time, so the same arrays would hash differently
    on every run and DVC would rerun every downstream stage; fixed timestamps keep a no-op a no-op.
    """
    fd, tmp = _atomic_path(Path(path))
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with os.fdopen(fd, "wb") as handle, zipfile.ZipFile(handle, "w", compression=method) as archive:
        for key, array in arrays.items():
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = method
            with archive.open(info, "w") as entry:
                np.lib.format.write_array(entry, np.asarray(array), allow_pickle=False)
    tmp.replace(path)


def sha256(path: Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def load_splits(path: Path) -> dict[str, np.ndarray]:
    """All arrays of a splits.npz (the prepare stage's output), loaded into memory."""
    with np.load(path) as splits:
        return {key: splits[key] for key in splits.files}
