"""Where `spacesuite data fetch` gets each model's real data: the publisher, the exact version, the checksums.

Each model lists its sources under `<model>.data.public` in params.yaml; `training/fetch.py` downloads them
with the publisher's own client and lands them in `data/public/<model>/` in the layout the model's reader
takes. A checksum is the sha256 of the file as its publisher serves it; `null` means "not pinned yet": fetch
then refuses and prints the hash it saw, which `spacesuite data fetch <model> --pin` writes back here.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Discriminator, Field, Tag, field_validator

Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$", description="hex sha256 of the published bytes")]
Pin = Sha256 | None  # None: not pinned yet, so fetch refuses and prints the observed hash
# How the downloaded files become the reader's layout: a conversion the demo's module defines (`Demo.converters`).
Convert = Annotated[str, Field(pattern=r"^[a-z0-9-]+$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _relative(path: str) -> str:
    """A path inside data/public/<model>/: relative, POSIX, no `..`."""
    pure = PurePosixPath(path)
    if not path or pure.is_absolute() or ".." in pure.parts or "\\" in path:
        raise ValueError(f"{path!r} must be a relative path inside the model's folder, without '..'")
    return pure.as_posix()


def _relative_names(files: dict[str, Pin]) -> dict[str, Pin]:
    return {_relative(name): pin for name, pin in files.items()}


Files = Annotated[
    dict[str, Pin],
    AfterValidator(_relative_names),
    Field(min_length=1, description="file name or path in the dataset → its sha256 (or null)"),
]


class KaggleSource(_Strict):
    """Files of a Kaggle dataset, fetched one by one with kagglehub.

    The version is part of the handle (`owner/slug/versions/N`): an unversioned handle asks Kaggle for its
    latest version, which needs the network even when the files are in kagglehub's cache.
    """

    kaggle: str = Field(pattern=r"^[\w.-]+/[\w.-]+/versions/\d+$", description="owner/slug/versions/N")
    files: Files
    convert: Convert = "none"


class HubSource(_Strict):
    """Files of a Hugging Face Hub dataset repository at one commit, fetched with huggingface_hub."""

    hub: str = Field(pattern=r"^[\w.-]+/[\w.-]+$", description="the dataset repository, owner/name")
    revision: str = Field(pattern=r"^[0-9a-f]{40}$", description="a full commit hash (answers from the cache)")
    files: Files
    convert: Convert = "none"


class UrlSource(_Strict):
    """One file at a URL (https://, or file:// for an offline copy), kept at `to`."""

    url: str = Field(pattern=r"^(https|http|file)://")
    sha256: Pin
    to: str = Field(description="where the file lands, relative to data/public/<model>/")
    convert: Convert = "none"

    @field_validator("to")
    @classmethod
    def _inside_folder(cls, value: str) -> str:
        return _relative(value)


class ArchiveSource(_Strict):
    """One folder of a .tar.gz at a URL, checked by a digest over its files, so a re-packed archive matches.

    `tree_sha256` is the sha256 of the lines `<sha256 of file>  <path>\\n` of every file under `select`,
    paths relative to it and sorted (what `sha256sum` prints; `LC_ALL=C sort`). GitHub does not promise
    byte-stable archives, so the archive's own hash is not pinned.
    """

    url: str = Field(pattern=r"^(https|http|file)://")
    unpack: Literal["tar.gz"]
    strip: int = Field(0, ge=0, description="leading path components to drop (GitHub wraps a tree in repo-ref/)")
    select: str = Field(description="the folder of the archive to keep, after `strip`")
    tree_sha256: Pin
    to: str = Field(description="where the folder's content lands, relative to data/public/<model>/")

    @field_validator("select", "to")
    @classmethod
    def _inside_folder(cls, value: str) -> str:
        return _relative(value)


def _kind(value: Any) -> str | None:
    """Which source a params.yaml entry is, by the key only it has."""
    keys = value if isinstance(value, dict) else vars(value) if isinstance(value, BaseModel) else {}
    for key, kind in (("kaggle", "kaggle"), ("hub", "hub"), ("unpack", "archive"), ("url", "url")):
        if key in keys:
            return kind
    return None


Source = Annotated[
    Annotated[KaggleSource, Tag("kaggle")]
    | Annotated[HubSource, Tag("hub")]
    | Annotated[ArchiveSource, Tag("archive")]
    | Annotated[UrlSource, Tag("url")],
    Discriminator(
        _kind,
        custom_error_type="unknown_source",
        custom_error_message="a public source needs one of the keys kaggle, hub or url (with unpack: an archive)",
    ),
]


def origin(source: KaggleSource | HubSource | UrlSource | ArchiveSource) -> str:
    """Where a source's files come from, as provenance records it: `kaggle:<handle>`, `hf:<repo>@<revision>` or
    the URL (the Space card lists the `hf:` ones as its `datasets:`)."""
    if isinstance(source, KaggleSource):
        return f"kaggle:{source.kaggle}"
    if isinstance(source, HubSource):
        return f"hf:{source.hub}@{source.revision}"
    return source.url
