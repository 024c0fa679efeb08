"""Exceptions for the mistakes a user or a data file can make; each message is one clear sentence."""

from __future__ import annotations


class SpacesuiteError(Exception):
    """Base class of every error this project raises on purpose."""


class InputError(SpacesuiteError, ValueError):
    """A request a user sent cannot be answered as it is (wrong image, bad number, empty text)."""


class NeedsWorkerThread(SpacesuiteError):
    """Work found too big to run on the event loop (a large image to decode): the caller redoes it in a thread."""


class ArtifactError(SpacesuiteError):
    """A model folder is missing a file or describes itself in a way this code cannot read."""


class DataLayoutError(SpacesuiteError, ValueError):
    """A raw data file does not have the expected layout; the message names file, row and column."""


class FetchError(SpacesuiteError):
    """Real data could not be fetched from its publisher (credentials, network, a missing file or version)."""


class ChecksumError(FetchError):
    """A fetched file's sha256 differs from the one params.yaml pins, or is not pinned yet."""
