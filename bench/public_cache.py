"""Fill the publishers' client caches from ../shared/datasets, so `spacesuite data fetch` runs fully offline.

`spacesuite data fetch` gets each model's data with its publisher's own client (training/fetch.py). Here
there is no network, so this script puts the shared copies where each client looks first:

- a kagglehub cache (`KAGGLEHUB_CACHE`) holding every pinned Kaggle version that params.yaml names:
  sign-language's CSVs (the shared `.csv.gz` decompressed), gender's CSV (the author's copy, target `Male`),
  and the Kaggle emotions `text.csv` (built from the dair-ai files: `,text,label` with ids 0..5);
- a Hugging Face cache (`HF_HUB_CACHE`, with `HF_HUB_OFFLINE=1`) holding dair-ai/emotion's three parquet
  files at the pinned revision, built from the shared `train.txt`, `val.txt`, `test.txt`;
- plain files for the file:// URLs: `mnist.npz`, a `cal_housing.tgz` rebuilt from scikit-learn's cache file,
  a GitHub-like tarball of the bird photos (`Tugas-Machine-Learning-Operations-992fc76/Birds dataset/...`),
  the MobileNetV2 no-top weights, and any PyPI wheel rebuilt from its distribution installed here.

Most copies are rebuilt (SOURCES.md), so their bytes differ from the published files: the params edits this
prints point each URL at its file:// copy and override the checksum of every rebuilt copy with the copy's own
hash; the check itself still runs. The birds' tree digest is not overridden: the shared photos are the
repository's own git blobs, so the published pin holds.

Run from the repository root::

    .venv/bin/python bench/public_cache.py /tmp/spacesuite-public --fetch   # fill, then fetch every model

It fills the folder (about 200 MB), writes a copy of params.yaml with the edits (`--params-out`, default
`<folder>/params.yaml`) and prints the environment as `KEY=VALUE` lines; `--fetch [MODEL ...]` then runs
`training.fetch.fetch_models` with that environment and params copy, into data/public/ (`--root`). The same by
hand, once the CLI reads another params file::

    .venv/bin/python bench/public_cache.py /tmp/spacesuite-public > /tmp/spacesuite-public.env
    env $(cat /tmp/spacesuite-public.env) .venv/bin/spacesuite data fetch --params /tmp/spacesuite-public/params.yaml
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import os
import shutil
import sys
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from training.demos import emotion, housing  # noqa: E402
from training.fetch import set_yaml_values  # noqa: E402

SHARED = REPO.parent / "shared" / "datasets"
GITHUB_TOP = "Tugas-Machine-Learning-Operations-992fc76"  # what GitHub's archive of 992fc76 wraps the tree in
DEFAULT_KAGGLE_VERSIONS = {"nelgiriyewithana/emotions": 1}  # filled even when params.yaml does not name it
Where = tuple[int | str, ...]


@dataclass
class OfflineCaches:
    """What `fill` made: the environment for the clients and the params edits for the rebuilt copies."""

    env: dict[str, str]
    edits: dict[Where, str]  # path in params.yaml (e.g. ("digits", "data", "public", 0, "url")) → value

    def apply(self, params: dict[str, Any]) -> dict[str, Any]:
        """Apply `edits` to a loaded params.yaml (in place); returns it."""
        for where, value in self.edits.items():
            parent = params
            for key in where[:-1]:
                parent = parent[key]
            parent[where[-1]] = value
        return params


# --- what each publisher's copy is built from -----------------------------------------------------------


def _gunzip(path: Path) -> Callable[[Path], None]:
    def build(target: Path) -> None:
        with gzip.open(path, "rb") as source, target.open("wb") as out:
            shutil.copyfileobj(source, out)

    return build


def _copy(path: Path) -> Callable[[Path], None]:
    return lambda target: shutil.copyfile(path, target)


def _dair_rows(shared: Path) -> dict[str, tuple[list[str], np.ndarray]]:
    return {name: emotion.read_dair_file(shared / "emotion" / name) for name in emotion.DAIR_FILES}


def _kaggle_emotions_csv(shared: Path) -> Callable[[Path], None]:
    def build(target: Path) -> None:
        import csv

        with target.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(emotion.KAGGLE_HEADER)
            row = 0
            for texts, labels in _dair_rows(shared).values():
                for text, label in zip(texts, labels, strict=True):
                    writer.writerow([row, text, int(label)])
                    row += 1

    return build


def _hub_parquet(shared: Path, dair_file: str) -> Callable[[Path], None]:
    def build(target: Path) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        texts, labels = emotion.read_dair_file(shared / "emotion" / dair_file)
        table = pa.table({"text": pa.array(texts, pa.string()), "label": pa.array(labels, pa.int64())})
        pq.write_table(table, target)

    return build


def _cal_housing_tgz(shared: Path) -> Callable[[Path], None]:
    """scikit-learn's `cal_housing.tgz` rebuilt from its cache: the cache's columns back in the archive's order."""

    def build(target: Path) -> None:
        import joblib

        cached = joblib.load(shared / "california-housing" / housing.PKZ_FILE)
        original = np.empty_like(cached)
        original[:, housing.SKLEARN_COLUMNS] = cached
        text = io.StringIO()
        np.savetxt(text, original, fmt="%.6f", delimiter=",")
        _tar_gz(target, {housing.SKLEARN_MEMBER: text.getvalue().encode("ascii")})

    return build


def _birds_tarball(shared: Path) -> Callable[[Path], None]:
    def build(target: Path) -> None:
        folder = shared / "birds" / "Birds dataset"
        files = {f"{GITHUB_TOP}/README.md": b"# Tugas Machine Learning Operations (stand-in)\n"}
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                files[f"{GITHUB_TOP}/Birds dataset/{path.relative_to(folder).as_posix()}"] = path.read_bytes()
        _tar_gz(target, files)

    return build


def _installed_wheel(name: str) -> Callable[[Path], None]:
    """A PyPI wheel (`<distribution>-<version>-...whl`) rebuilt from the copy installed here: a zip of its files.

    Raises:
        KeyError: not a wheel, or that distribution is not installed here (no offline copy of it).
    """
    import importlib.metadata
    import zipfile

    if not name.endswith(".whl"):
        raise KeyError(f"no offline copy of {name}")
    try:
        distribution = importlib.metadata.distribution(name.split("-")[0])
    except importlib.metadata.PackageNotFoundError as error:
        raise KeyError(f"no offline copy of {name}: its distribution is not installed") from error

    def build(target: Path) -> None:
        with zipfile.ZipFile(target, "w") as wheel:
            for file in sorted(distribution.files or [], key=str):
                path = Path(distribution.locate_file(file))
                if path.is_file() and "__pycache__" not in file.parts:
                    wheel.writestr(zipfile.ZipInfo(str(file), date_time=(1980, 1, 1, 0, 0, 0)), path.read_bytes())

    return build


def _tar_gz(target: Path, files: dict[str, bytes]) -> None:
    """A .tar.gz of `files` with fixed times and owners, so the same files give the same bytes."""
    with (
        target.open("wb") as raw,
        gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as zipped,
        tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for name in sorted({str(PurePosixPath(n).parent) for n in files} - {"."}):
            info = tarfile.TarInfo(name)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))


def kaggle_files(shared: Path) -> dict[str, dict[str, Callable[[Path], None]]]:
    """Kaggle `owner/slug` → file name in the dataset → how to build its copy."""
    sign = shared / "sign-language-mnist"
    return {
        "datamunge/sign-language-mnist": {
            name: _gunzip(sign / f"{name}.gz") for name in ("sign_mnist_train.csv", "sign_mnist_test.csv")
        },
        "elakiricoder/gender-classification-dataset": {
            "gender_classification_v7.csv": _copy(shared / "gender" / "gender_classification_v7.csv")
        },
        "nelgiriyewithana/emotions": {"text.csv": _kaggle_emotions_csv(shared)},
    }


def hub_files(shared: Path) -> dict[str, dict[str, Callable[[Path], None]]]:
    """Hub dataset repository → path in the repository → how to build its copy."""
    splits = {"train": "train.txt", "validation": "val.txt", "test": "test.txt"}
    return {
        "dair-ai/emotion": {
            f"split/{split}-00000-of-00001.parquet": _hub_parquet(shared, name) for split, name in splits.items()
        }
    }


def url_files(shared: Path) -> dict[str, Callable[[Path], None]]:
    """Last component of a published URL → how to build the file served at its file:// stand-in."""
    weights = "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5"
    return {
        "mnist.npz": _copy(shared / "mnist" / "mnist.npz"),
        "5976036": _cal_housing_tgz(shared),  # scikit-learn's ARCHIVE.url for cal_housing.tgz (figshare)
        "992fc76.tar.gz": _birds_tarball(shared),
        weights: _copy(shared / "mobilenet_v2" / weights),
    }


# --- the caches --------------------------------------------------------------------------------------------


def fill(folder: Path, *, shared: Path = SHARED, params_path: Path = REPO / "params.yaml") -> OfflineCaches:
    """Fill `folder` with the client caches and file:// files for every `data.public` source of params.yaml.

    Returns the environment the clients need and the params edits (file:// URLs, checksums of rebuilt copies).

    Raises:
        KeyError: params.yaml names a Kaggle dataset, Hub repository or URL this script has no copy of.
    """
    folder = Path(folder).resolve()
    params = yaml.safe_load(Path(params_path).read_text(encoding="utf-8"))
    kaggle_cache, hub_cache, files = folder / "kagglehub", folder / "hf", folder / "files"
    for path in (kaggle_cache, hub_cache, files):
        path.mkdir(parents=True, exist_ok=True)
    known_kaggle, known_hub, known_urls = kaggle_files(shared), hub_files(shared), url_files(shared)
    sources = list(_public_sources(params))
    kaggle_versions = {slug: {version} for slug, version in DEFAULT_KAGGLE_VERSIONS.items()}
    for _, source in sources:
        if "kaggle" in source:
            owner, slug, _, version = source["kaggle"].split("/")
            kaggle_versions.setdefault(f"{owner}/{slug}", set()).add(int(version))
    for owner_slug, versions in kaggle_versions.items():
        for version in sorted(versions):
            _fill_kaggle(kaggle_cache, owner_slug, version, known_kaggle[owner_slug])
    edits: dict[Where, str] = {}
    for at, source in sources:
        if "kaggle" in source:
            version_folder = kaggle_cache / "datasets" / source["kaggle"]
            for name in source["files"]:
                edits[(*at, "files", name)] = _sha256(version_folder / name)
        elif "hub" in source:
            for name in source["files"]:
                build = known_hub[source["hub"]][name]
                edits[(*at, "files", name)] = _fill_hub(hub_cache, source["hub"], source["revision"], name, build)
        else:
            last = PurePosixPath(source["url"].split("?")[0]).name
            target = files / (source["to"] if "unpack" not in source else last)
            target.parent.mkdir(parents=True, exist_ok=True)
            (known_urls.get(last) or _installed_wheel(last))(target)
            edits[(*at, "url")] = target.as_uri()
            if "unpack" not in source:  # an archive keeps its published tree digest: same files, same pin
                edits[(*at, "sha256")] = _sha256(target)
    env = {"KAGGLEHUB_CACHE": str(kaggle_cache), "HF_HUB_CACHE": str(hub_cache), "HF_HUB_OFFLINE": "1"}
    return OfflineCaches(env, edits)


def _public_sources(params: dict[str, Any]):
    """(path of the source in params.yaml, the source) for every `<section>.data.public` entry."""
    for section, body in params.items():
        data = body.get("data") if isinstance(body, dict) else None
        for index, source in enumerate((data or {}).get("public") or []):
            yield (section, "data", "public", index), source


def _fill_kaggle(cache: Path, owner_slug: str, version: int, builders: dict[str, Callable[[Path], None]]) -> None:
    """kagglehub 1.0's cache for `owner/slug/versions/N`: the files, a marker per file and one for the bundle."""
    dataset = cache / "datasets" / owner_slug
    for name, build in builders.items():
        target = dataset / "versions" / str(version) / name
        if not target.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            build(target)
        marker = dataset / ".complete" / str(version) / f"{name}.complete"  # what a single-file download leaves
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
    (dataset / f"{version}.complete").touch()  # what a whole-dataset download leaves


def _fill_hub(cache: Path, repo: str, revision: str, name: str, build: Callable[[Path], None]) -> str:
    """huggingface_hub's cache layout: blobs/<sha256> (an LFS file's id), snapshots/<rev>/<path> → blob, refs/main."""
    storage = cache / f"datasets--{repo.replace('/', '--')}"
    pointer = storage / "snapshots" / revision / name
    staging = storage / "blobs" / ".incoming"
    staging.parent.mkdir(parents=True, exist_ok=True)
    build(staging)
    digest = _sha256(staging)
    blob = storage / "blobs" / digest
    os.replace(staging, blob)
    pointer.parent.mkdir(parents=True, exist_ok=True)
    if pointer.is_symlink() or pointer.exists():
        pointer.unlink()
    pointer.symlink_to(os.path.relpath(blob, pointer.parent))
    (storage / "refs").mkdir(exist_ok=True)
    (storage / "refs" / "main").write_text(revision)
    return digest


def _sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="where the caches and files go")
    parser.add_argument("--params", type=Path, default=REPO / "params.yaml", help="the params.yaml to read")
    parser.add_argument("--params-out", type=Path, help="the edited params.yaml (default: <folder>/params.yaml)")
    parser.add_argument("--shared", type=Path, default=SHARED, help="the shared datasets folder")
    parser.add_argument("--fetch", nargs="*", metavar="MODEL", help="then fetch these models (none named: all)")
    parser.add_argument("--root", type=Path, default=Path("data/public"), help="where --fetch lands the data")
    args = parser.parse_args()
    caches = fill(args.folder, shared=args.shared, params_path=args.params)
    out = args.params_out or args.folder / "params.yaml"
    out.write_text(set_yaml_values(args.params.read_text(encoding="utf-8"), caches.edits), encoding="utf-8")
    for key, value in caches.env.items():
        print(f"{key}={value}")
    print(f"wrote {out} ({len(caches.edits)} edits: file:// URLs, checksums of rebuilt copies)", file=sys.stderr)
    if args.fetch is not None:
        if "huggingface_hub" in sys.modules:  # it reads HF_HUB_CACHE and HF_HUB_OFFLINE once, at import
            raise SystemExit("huggingface_hub was imported before its environment was set")
        os.environ.update(caches.env)
        from training.fetch import fetch_models

        for report in fetch_models(args.fetch, params_path=out, root=args.root):
            print(f"{report.model}: {len(report.files)} checked in {report.folder}", file=sys.stderr)


if __name__ == "__main__":
    main()
