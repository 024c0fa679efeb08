"""`spacesuite data fetch`: each model's real data from its publisher, checked against params.yaml, in
`data/public/<model>/` in the layout the model's reader takes.

Each source (training/sources.py) is fetched with its publisher's own client: kagglehub for Kaggle,
huggingface_hub for the Hub, urllib for a URL (https:// or file://). Everything lands in a staging folder
beside `data/public/<model>/`, is hashed and checked, converted where the reader needs another layout, and
only then swapped in: a missing credential, a network error, a checksum mismatch or an unpinned checksum
leaves the previous `data/public/<model>/` as it was. Offline, each client answers from its own cache
(`KAGGLEHUB_CACHE`, `HF_HUB_CACHE` with a pinned revision) or a file:// URL: see bench/public_cache.py.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tarfile
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path, PurePosixPath
from typing import BinaryIO

import yaml
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TaskID, TextColumn, TransferSpeedColumn

from shared.errors import ChecksumError, FetchError
from training.paths import PUBLIC_DATA_DIR
from training.sources import ArchiveSource, HubSource, KaggleSource, Source, UrlSource

PinPath = tuple[int | str, ...]  # where a checksum lives under `<model>.data.public` (e.g. (0, "files", "x.csv"))
CHUNK = 1 << 20
KAGGLE_CREDENTIALS = (
    "set KAGGLE_USERNAME and KAGGLE_KEY (or KAGGLE_API_TOKEN, or write ~/.kaggle/kaggle.json); "
    "in GitHub Actions, add them as repository secrets of those names"
)

Converter = Callable[[list[Path], Path], list[Path]]  # (downloaded files, folder) → files in the reader's layout


@dataclass(frozen=True)
class FetchedFile:
    """One fetched file (or, for an archive, one selected folder) and its checksum."""

    name: str  # as the message names it: the file in the dataset, the URL's target, or the folder
    sha256: str  # observed: of the file, or the tree digest of the folder
    bytes: int
    pin: PinPath  # where params.yaml pins it, under `<model>.data.public`
    expected: str | None  # the pin (None: not pinned yet)


@dataclass
class FetchReport:
    """What `fetch_model` landed in `folder`."""

    model: str
    folder: Path
    files: list[FetchedFile] = field(default_factory=list)

    @property
    def unpinned(self) -> dict[PinPath, str]:
        """The observed checksums params.yaml does not pin yet, by where they go (for `pin_checksums`)."""
        return {item.pin: item.sha256 for item in self.files if item.expected is None}


def fetch_models(
    models: Sequence[str] = (),
    *,
    params_path: Path = Path("params.yaml"),
    root: Path = PUBLIC_DATA_DIR,
    pin: bool = False,
    console: Console | None = None,
) -> list[FetchReport]:
    """Fetch the `data.public` sources of each model (all models when none is named) into `root/<model>/`.

    With `pin`, checksums that params.yaml leaves null are written into it (`pin_checksums`) instead of
    refusing; a checksum that differs from its pin still refuses.

    Raises:
        KeyError: an unknown model.
        FetchError: a source could not be fetched, or a checksum differs or is not pinned (one sentence).
    """
    from training.demos import demo
    from training.params import load_params

    params = load_params(params_path)
    reports = []
    for model in models or params.models():
        found = demo(model)
        name, sources = found.name, params.model(model).data.public
        if not sources:
            raise FetchError(f"{name}: params.yaml declares no {found.section}.data.public sources to fetch")
        report = fetch_model(name, sources, root=root, allow_unpinned=pin, console=console, converters=found.converters)
        if pin and report.unpinned:
            written = pin_checksums(params_path, name, report.unpinned)
            _console(console).print(f"{name}: pinned {written} checksum(s) in {params_path}", highlight=False)
        reports.append(report)
    return reports


def fetch_model(
    model: str,
    sources: Sequence[Source],
    *,
    root: Path = PUBLIC_DATA_DIR,
    allow_unpinned: bool = False,
    console: Console | None = None,
    converters: Mapping[str, Converter] | None = None,
) -> FetchReport:
    """Fetch `sources` into `root/<model>/`, replacing it only when every file is fetched, checked and converted.

    Args:
        model: the pipeline name (`sign-language`), used in messages and as the folder name.
        sources: the model's `data.public` list, in order (pins are addressed by position).
        root: the folder holding each model's fetched data.
        allow_unpinned: land files whose pin is null (the caller then pins them) instead of refusing.
        console: where the progress goes (default: stderr).
        converters: the demo's conversions, by the name a source's `convert` gives.

    Raises:
        FetchError: a credential is missing, a client or URL failed (one sentence, no token in it).
        ChecksumError: a file differs from its pin, or is not pinned and `allow_unpinned` is false.
        DataLayoutError: a conversion found the downloaded files malformed.
    """
    root, out = Path(root), _console(console)
    final, staging = root / model, root / f".{model}.fetching"
    report = FetchReport(model, final)
    _remove(staging)
    staging.mkdir(parents=True)
    try:
        with _progress(out) as progress:
            raw: dict[int, list[Path]] = {}
            for index, source in enumerate(sources):
                converts = getattr(source, "convert", "none") != "none"
                target = staging / ".download" / str(index) if converts else staging
                fetched, paths = _fetch_source(model, index, source, target, progress)
                report.files += fetched
                if converts:
                    raw[index] = paths
        _check(report, allow_unpinned)
        for item in report.files:
            out.print(
                f"{model}: {item.name}  {item.bytes:,} bytes  sha256 {item.sha256}", highlight=False, soft_wrap=True
            )
        for index, paths in raw.items():
            convert = sources[index].convert  # type: ignore[union-attr]
            if convert not in (converters or {}):
                raise FetchError(f"{model}: no conversion {convert!r} (this demo has: {', '.join(converters or {})})")
            (converters or {})[convert](paths, staging)
        _remove(staging / ".download")
        _swap(staging, final)
    finally:
        _remove(staging)
    return report


def _fetch_source(
    model: str, index: int, source: Source, target: Path, progress: Progress
) -> tuple[list[FetchedFile], list[Path]]:
    if isinstance(source, KaggleSource):
        return _fetch_kaggle(model, index, source, target, progress)
    if isinstance(source, HubSource):
        return _fetch_hub(model, index, source, target, progress)
    if isinstance(source, ArchiveSource):
        return _fetch_archive(model, index, source, target, progress)
    return _fetch_url(model, index, source, target, progress)


# --- the clients ---------------------------------------------------------------------------------------------


def _fetch_kaggle(
    model: str, index: int, source: KaggleSource, target: Path, progress: Progress
) -> tuple[list[FetchedFile], list[Path]]:
    import kagglehub
    from kagglehub.cache import Cache
    from kagglehub.handle import parse_dataset_handle

    handle = parse_dataset_handle(source.kaggle)
    fetched, paths = [], []
    for name, pin in source.files.items():
        # kagglehub answers a pinned version from its cache without credentials; otherwise it needs them, and
        # asking Kaggle without them only ends in a less helpful error after a network round trip.
        if Cache().load_from_cache(handle, name) is None and not _kaggle_credentials(model):
            raise FetchError(
                f"{model}: {name} of Kaggle dataset {source.kaggle} is not in kagglehub's cache "
                f"(KAGGLEHUB_CACHE, default ~/.cache/kagglehub) and no Kaggle credentials are set: {KAGGLE_CREDENTIALS}"
            )
        task = progress.add_task(f"{model}: {name} (Kaggle)", total=None)
        try:
            local = Path(kagglehub.dataset_download(source.kaggle, path=name))
        except Exception as error:  # kagglehub raises requests, HTTP and its own errors alike
            raise FetchError(
                f"{model}: Kaggle did not deliver {name} of {source.kaggle} ({_reason(error)}); check the dataset, "
                f"its version and the file name on kaggle.com, and your credentials ({KAGGLE_CREDENTIALS})"
            ) from error
        if local.is_dir():
            raise FetchError(f"{model}: {name} of Kaggle dataset {source.kaggle} is a folder, not a file")
        _keep(local, name, (index, "files", name), pin, target, progress, task, fetched, paths)
    return fetched, paths


def _keep(
    local: Path,
    name: str,
    where: PinPath,
    pin: str | None,
    target: Path,
    progress: Progress,
    task: TaskID,
    fetched: list[FetchedFile],
    paths: list[Path],
) -> None:
    """Copy a file a client downloaded into `target` (hashing it on the way) and note it."""
    with local.open("rb") as handle_in:
        path = target / PurePosixPath(name).name
        digest, size = _copy(handle_in, path, progress, task, local.stat().st_size)
    fetched.append(FetchedFile(name, digest, size, where, pin))
    paths.append(path)


def _kaggle_credentials(model: str) -> bool:
    from kagglehub.config import get_kaggle_credentials

    try:
        return get_kaggle_credentials() is not None
    except ValueError as error:  # a malformed ~/.kaggle/kaggle.json
        raise FetchError(
            f"{model}: the Kaggle credentials file is not usable ({error}); {KAGGLE_CREDENTIALS}"
        ) from None


def _fetch_hub(
    model: str, index: int, source: HubSource, target: Path, progress: Progress
) -> tuple[list[FetchedFile], list[Path]]:
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import (
        EntryNotFoundError,
        GatedRepoError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    fetched, paths = [], []
    where = f"{source.hub}@{source.revision[:7]}"
    for name, pin in source.files.items():
        task = progress.add_task(f"{model}: {PurePosixPath(name).name} (Hub)", total=None)
        try:
            local = Path(hf_hub_download(source.hub, name, repo_type="dataset", revision=source.revision))
        except Exception as error:
            if isinstance(error, GatedRepoError):
                hint = "the dataset is gated: accept its terms on the Hub and set HF_TOKEN (a read token)"
            elif isinstance(error, LocalEntryNotFoundError):
                hint = (
                    "it is not in the Hub cache (HF_HUB_CACHE) and the Hub could not be asked (offline, HF_HUB_OFFLINE)"
                )
            elif isinstance(error, RepositoryNotFoundError | RevisionNotFoundError | EntryNotFoundError):
                hint = "check the repository, the revision and the path; HF_TOKEN is needed only for a private dataset"
            else:
                hint = "check the network; HF_TOKEN is needed only for a gated or private dataset"
            raise FetchError(
                f"{model}: the Hugging Face Hub did not deliver {name} of dataset {where} ({type(error).__name__}); "
                f"{hint}"
            ) from error
        _keep(local, name, (index, "files", name), pin, target, progress, task, fetched, paths)
    return fetched, paths


def _fetch_url(
    model: str, index: int, source: UrlSource, target: Path, progress: Progress
) -> tuple[list[FetchedFile], list[Path]]:
    path = target / source.to
    digest, size = _download(model, source.url, path, progress, source.to)
    return [FetchedFile(source.to, digest, size, (index, "sha256"), source.sha256)], [path]


def _fetch_archive(
    model: str, index: int, source: ArchiveSource, target: Path, progress: Progress
) -> tuple[list[FetchedFile], list[Path]]:
    archive = target / ".download" / f"{index}.tar.gz"
    _download(model, source.url, archive, progress, f"{source.to}/ (archive)")
    folder = target / source.to
    digests = _extract(model, archive, source, folder)
    archive.unlink()
    size = sum((folder / name).stat().st_size for name in digests)
    name = f"{source.to}/ ({len(digests)} files)"
    return [FetchedFile(name, tree_sha256(digests), size, (index, "tree_sha256"), source.tree_sha256)], [folder]


def _download(model: str, url: str, path: Path, progress: Progress, label: str) -> tuple[str, int]:
    """Download `url` (https:// or file://) to `path`; its sha256 and size."""
    task = progress.add_task(f"{model}: {label}", total=None)
    request = urllib.request.Request(url, headers={"User-Agent": "spacesuite-data-fetch"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            total = int(response.headers.get("Content-Length") or 0) or None
            return _copy(response, path, progress, task, total)
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise FetchError(f"{model}: could not download {url} ({_reason(error)})") from error


def _copy(source: BinaryIO, path: Path, progress: Progress, task: TaskID, total: int | None) -> tuple[str, int]:
    """Copy a stream to `path`, hashing it and advancing `task`; its sha256 and size."""
    path.parent.mkdir(parents=True, exist_ok=True)
    progress.update(task, total=total)
    digest, size = hashlib.sha256(), 0
    with path.open("wb") as out:
        for chunk in iter(lambda: source.read(CHUNK), b""):
            digest.update(chunk)
            out.write(chunk)
            size += len(chunk)
            progress.advance(task, len(chunk))
    progress.update(task, total=size, completed=size)
    return digest.hexdigest(), size


def _extract(model: str, archive: Path, source: ArchiveSource, folder: Path) -> dict[str, str]:
    """Extract the regular files under `source.select` (after `strip`) into `folder`; their sha256 by path."""
    select = PurePosixPath(source.select).parts
    digests: dict[str, str] = {}
    try:
        with tarfile.open(archive, mode="r:gz") as tar:
            for member in tar:
                parts = PurePosixPath(member.name).parts[source.strip :]
                if tuple(parts[: len(select)]) != select or len(parts) == len(select):
                    continue
                relative = PurePosixPath(*parts[len(select) :])
                if member.isdir():
                    continue
                if not member.isfile() or relative.is_absolute() or ".." in relative.parts:
                    raise FetchError(f"{model}: {source.url} holds {member.name!r}, not a plain file inside the folder")
                handle = tar.extractfile(member)
                assert handle is not None  # a regular file always has content
                digests[relative.as_posix()] = _write(handle, folder / relative)
    except (tarfile.TarError, OSError, EOFError) as error:
        raise FetchError(f"{model}: {source.url} is not a readable .tar.gz ({_reason(error)})") from error
    if not digests:
        raise FetchError(f"{model}: {source.url} has no files under {source.select!r} (after stripping {source.strip})")
    return digests


def _write(handle: BinaryIO, path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    with path.open("wb") as out:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest()


def tree_sha256(digests: Mapping[str, str]) -> str:
    """The digest of a folder: sha256 of `<sha256>  <path>\\n` per file, sorted by path (`sha256sum`'s lines).

    The shell gives the same: `cd <folder> && find . -type f -printf '%P\\0' | LC_ALL=C sort -z |
    xargs -0 sha256sum | sha256sum`.
    """
    lines = "".join(f"{digest}  {path}\n" for path, digest in sorted(digests.items()))
    return hashlib.sha256(lines.encode("utf-8")).hexdigest()


def folder_sha256(folder: Path) -> str:
    """`tree_sha256` of every file under `folder` (the value an archive source's `tree_sha256` pins)."""
    folder = Path(folder)
    digests = {}
    for path in folder.rglob("*"):
        if path.is_file():
            with path.open("rb") as handle:
                digests[path.relative_to(folder).as_posix()] = hashlib.file_digest(handle, "sha256").hexdigest()
    return tree_sha256(digests)


# --- checks, swap ----------------------------------------------------------------------------------------------


def _check(report: FetchReport, allow_unpinned: bool) -> None:
    """Refuse (one sentence) on a mismatch, or on an unpinned file unless `allow_unpinned`."""
    model, folder = report.model, report.folder
    section = f"{model.replace('-', '_')}.data.public"
    wrong = [item for item in report.files if item.expected is not None and item.expected != item.sha256]
    if wrong:
        clauses = " and ".join(f"{item.name} has sha256 {item.sha256} where it pins {item.expected}" for item in wrong)
        raise ChecksumError(
            f"{model}: checksum mismatch against params.yaml ({section}): {clauses}; {folder} was left as it was."
        )
    unpinned = [item for item in report.files if item.expected is None]
    if unpinned and not allow_unpinned:
        clauses = " and ".join(f"{item.name} has sha256 {item.sha256}" for item in unpinned)
        raise ChecksumError(
            f"{model}: {clauses}, not pinned yet in params.yaml ({section}: null); check that this is the "
            f"published file and pin it with `spacesuite data fetch {model} --pin` ({folder} was left as it was)."
        )


def _swap(staging: Path, final: Path) -> None:
    """Put `staging` in place of `final` (renames on one file system); on failure `final` is restored."""
    old = final.with_name(f".{final.name}.old")
    _remove(old)
    if final.exists():
        final.rename(old)
    try:
        staging.rename(final)
    except OSError:
        if old.exists():
            old.rename(final)
        raise
    _remove(old)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _reason(error: BaseException) -> str:
    """The first line of an error, without a URL's credentials or query string."""
    text = str(getattr(error, "reason", None) or error).strip().splitlines()
    line = text[0] if text else type(error).__name__
    return re.sub(r"(https?://)[^/@\s]*@", r"\1", re.sub(r"\?\S*", "", line))[:300]


def _console(console: Console | None) -> Console:
    return console or Console(stderr=True)


@contextmanager
def _progress(console: Console) -> Iterator[Progress]:
    columns = (TextColumn("{task.description}"), BarColumn(bar_width=24), DownloadColumn(), TransferSpeedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        yield progress


# --- pinning ------------------------------------------------------------------------------------------------


def pin_checksums(params_path: Path, model: str, observed: Mapping[PinPath, str]) -> int:
    """Write observed checksums into params.yaml where `<model>.data.public` pins them as null.

    Only those scalars change: comments, spacing and every other line stay byte for byte. A value already
    pinned to the same hash is left alone; one pinned to another hash is refused (set it to null to re-pin).

    Args:
        params_path: the params.yaml to edit in place.
        model: the pipeline name (`sign-language`); its section is `sign_language`.
        observed: pin path under `data.public` → sha256, e.g. `{(0, "files", "x.csv"): "ab…"}`
            (`FetchReport.unpinned`).

    Returns:
        How many values were written.

    Raises:
        KeyError: a pin path that is not in the file.
        ChecksumError: a value is already pinned to another hash.
    """
    path = Path(params_path)
    text = path.read_bytes().decode("utf-8")
    root = yaml.compose(text)
    section = model.replace("-", "_")
    edits: dict[tuple[int | str, ...], str] = {}
    for pin, digest in observed.items():
        where = (section, "data", "public", *pin)
        node = _node_at(root, where)
        if node.tag.endswith(":null"):
            edits[where] = digest
        elif node.value != digest:
            raise ChecksumError(
                f"{model}: params.yaml already pins {_dotted(where)} to {node.value}, not {digest}; "
                "set it to null first to pin the new file"
            )
    if edits:
        updated = set_yaml_values(text, edits)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(updated.encode("utf-8"))
        os.replace(tmp, path)
    return len(edits)


def set_yaml_values(text: str, values: Mapping[tuple[int | str, ...], str | float | bool | None]) -> str:
    """Replace the scalar at each path of a YAML document with a value (or null), leaving every other byte as it was.

    Raises:
        KeyError: a path is not in the document, or does not end at a scalar.
    """
    root = yaml.compose(text)
    spans = []
    for where, value in values.items():
        node = _node_at(root, where)
        if not isinstance(node, yaml.ScalarNode):
            raise KeyError(f"{_dotted(where)} is not a single value in the YAML file")
        start, end = node.start_mark.index, node.end_mark.index
        spans.append((start, end, _scalar(value) if end > start else f" {_scalar(value)}"))
    for start, end, replacement in sorted(spans, reverse=True):
        text = text[:start] + replacement + text[end:]
    document = yaml.safe_load(text)
    for where, value in values.items():  # each edit must read back as exactly the value written
        found = document
        for key in where:
            found = found[key]
        if found != value:
            raise ValueError(f"{_dotted(where)} reads back as {found!r}, not {value!r}")
    return text


def _node_at(root: yaml.Node | None, where: tuple[int | str, ...]) -> yaml.Node:
    node = root
    for depth, key in enumerate(where):
        if isinstance(node, yaml.MappingNode):
            node = next((value for name, value in node.value if name.value == str(key)), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and 0 <= key < len(node.value):
            node = node.value[key]
        else:
            node = None
        if node is None:
            raise KeyError(f"params.yaml has no {_dotted(where[: depth + 1])}")
    assert node is not None
    return node


def _scalar(value: str | float | bool | None) -> str:
    """`value` as a YAML scalar: a string plain when that reads back as the same string, else double-quoted; a float
    without an exponent (PyYAML reads `1e-05` as a string)."""
    if value is None:
        return "null"
    if isinstance(value, bool | int):
        return json.dumps(value)
    if isinstance(value, float):
        return format(Decimal(repr(value)), "f")
    plain = re.fullmatch(r"[A-Za-z0-9_./+-][A-Za-z0-9_./:+%-]*", value) is not None
    return value if plain and yaml.safe_load(value) == value else json.dumps(value)


def _dotted(where: tuple[int | str, ...]) -> str:
    return ".".join(str(key) for key in where)
