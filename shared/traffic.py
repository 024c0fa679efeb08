"""The traffic log: one JSON line per answered request, appended by every Space (page and REST alike).

Each record holds the time, the Space, the model and its version, the endpoint, the outcome, the latency and, for
an answer, the inputs that are safe to keep (`shared.descriptors`: form values, the text and its descriptors,
image statistics, never raw pixels unless asked) with the prediction and its confidence. A user's feedback on an
answer is one more line (outcome `feedback`) naming the request and instance it judges. The drift job
(`spacesuite drift --traffic DIR`) reads these files.

Durability: each record is one `write` to a file opened with O_APPEND, made before the answer leaves the app, so a
crash or `kill -9` cannot lose an answered request (the kernel holds the bytes; `SPACESUITE_TRAFFIC_FSYNC=1` also
survives a power cut, at a cost `bench/traffic_log.py` measures). One file per process, never rewritten: the
append-only layout `huggingface_hub.CommitScheduler` expects; beyond `limits.LOG_ROTATE_BYTES` the process starts
its next file.

A failing disk never fails a request: after a failed or short write (disk full, read-only folder) one warning is
logged, the records are dropped (and counted) for `limits.LOG_RETRY_S`, and when writing works again the next
record starts on a line of its own, so a torn line never swallows it. Records are ASCII JSON: no terminal escape,
line separator or newline in a request can reach the file as such.

Settings (environment):
- `SPACESUITE_TRAFFIC_DIR`: where the files go (default `traffic/` in the working directory); `off` disables.
- `SPACESUITE_TRAFFIC_KEEP`: `safe` (default: form values, text, image statistics), `stats` (descriptors only,
  no text) or `images` (safe, plus the model's input image as a base64 PNG).
- `SPACESUITE_TRAFFIC_REPO`: a Hub dataset repo (`owner/name`) to push the files to every
  `SPACESUITE_TRAFFIC_EVERY` minutes (at least and by default 5), with the token from `HF_TOKEN`.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import math
import os
import re
import socket
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

import shared.limits as limits
from shared.feedback import FEEDBACK

if TYPE_CHECKING:
    from shared.feedback import Feedback
    from shared.service import Record

logger = logging.getLogger(__name__)
DEFAULT_DIR = Path("traffic")
KEEP_CHOICES = ("safe", "stats", "images")
MIN_PUSH_MINUTES = 5
MAX_ERROR_CHARS = 300
Keep = Literal["safe", "stats", "images"]


def png_base64(pixels: np.ndarray) -> str:
    """A model input (H, W, C) in [0, 1] as a base64 PNG."""
    from PIL import Image

    array = (np.clip(np.asarray(pixels, dtype=np.float32), 0, 1) * 255).round().astype(np.uint8)
    array = array[..., 0] if array.ndim == 3 and array.shape[-1] == 1 else array
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-") or "space"


def _finite(value: Any) -> Any:
    """JSON has no NaN or Infinity: such numbers are written as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class TrafficLog:
    """An append-only JSON-lines file for this process; thread-safe, one `write` per record."""

    def __init__(
        self,
        folder: Path,
        space: str,
        *,
        keep: Keep = "safe",
        fsync: bool = False,
        rotate_bytes: int = limits.LOG_ROTATE_BYTES,
    ) -> None:
        if keep not in KEEP_CHOICES:
            raise ValueError(f"SPACESUITE_TRAFFIC_KEEP must be one of {', '.join(KEEP_CHOICES)}, not {keep!r}")
        self.folder = Path(folder)
        self.space = space
        self.keep = keep
        self.fsync = fsync
        self.rotate_bytes = rotate_bytes
        self.files = 0  # files this log started (one more per rotation)
        self.path = self._next_path()
        self.lost = 0  # records dropped because the disk failed
        self._fd: int | None = None
        self._size = 0
        self._suspect = False  # a write failed: the file may end in a torn line
        self._failing_since: float | None = None
        self._retry_at = 0.0
        self._lock = threading.Lock()

    def _next_path(self) -> Path:
        self.files += 1
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        part = f"-{self.files}" if self.files > 1 else ""
        host = _safe_name(socket.gethostname())
        return self.folder / f"{_safe_name(self.space)}-{stamp}-{host}-{os.getpid()}{part}.jsonl"

    def _open(self) -> int:
        if self._fd is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            # read and write: after a failed write, `_torn` reads the last byte back
            self._fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
            self._size = os.fstat(self._fd).st_size
        return self._fd

    def _torn(self, fd: int) -> bool:
        """Whether the file ends in the middle of a line (after a failed or short write)."""
        size = os.fstat(fd).st_size
        return size > 0 and os.pread(fd, 1, size - 1) != b"\n"

    def records(self, request: Record) -> list[dict[str, Any]]:
        """The lines of one request: one per answered instance, or one without inputs for a refusal."""
        base = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "request": request.id,
            "space": self.space,
            "endpoint": request.endpoint,
            "outcome": request.outcome,
            "latency_ms": round(request.latency_s * 1000, 3),
        }
        if request.explanation:
            base["explanation"] = True  # the drift job leaves it out: the page's `predict` logged the same answer
        if not request.predictions:
            return [{**base, "model": request.model, "version": None, "error": request.error[:MAX_ERROR_CHARS]}]
        rows = []
        for instance, prediction in enumerate(request.predictions):
            inputs = {key: _finite(value) for key, value in prediction.inputs.items()}
            if self.keep == "stats":
                inputs.pop("text", None)
            if self.keep == "images" and prediction.pixels is not None:
                inputs["image_png"] = png_base64(prediction.pixels)
            row = {
                **base,
                "model": request.model,
                "version": request.spec.version,
                "batch": len(request.predictions),
                "instance": instance,  # which answer of the request feedback on it refers to
                "inputs": inputs,
                "prediction": _finite(prediction.answer),
                "confidence": _finite(prediction.confidence),
            }
            rows.append(row)
        return rows

    def feedback_record(self, feedback: Feedback) -> dict[str, Any]:
        """The line of one feedback: the request and instance it judges (`request` as in the answer's lines)."""
        return {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "request": feedback.request,
            "space": self.space,
            "endpoint": feedback.endpoint,
            "outcome": FEEDBACK,
            "model": feedback.model,
            "version": feedback.spec.version,
            "instance": feedback.instance,
            "feedback": {"correct": feedback.correct, "label": feedback.label, "prediction": feedback.predicted},
        }

    def write(self, records: list[dict[str, Any]]) -> bool:
        """Append records (one line each, ASCII JSON) in a single write; fsync when asked. Returns whether they were
        written: a failing disk is warned about once, and its records are dropped and counted in `lost`."""
        payload = "".join(json.dumps(record, ensure_ascii=True, allow_nan=False) + "\n" for record in records)
        data = payload.encode("ascii")
        with self._lock:
            if self._failing_since is not None and time.monotonic() < self._retry_at:
                self.lost += len(records)
                return False
            try:
                fd = self._open()
                if self._suspect and self._torn(fd):
                    data = b"\n" + data  # end the torn line: the record after it stays whole
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                if self.fsync:
                    os.fsync(fd)
            except OSError as error:
                self._failed(error, len(records))
                return False
            self._size += len(data)
            self._suspect = False
            if self._failing_since is not None:
                logger.warning("traffic log: writing to %s again (%d records were lost)", self.path, self.lost)
                self._failing_since = None
            if self._size >= self.rotate_bytes:
                self._rotate()
            return True

    def _failed(self, error: OSError, records: int) -> None:
        """After a failed (maybe short) write: warn once, drop the records, retry later."""
        self._suspect = True
        self.lost += records
        self._retry_at = time.monotonic() + limits.LOG_RETRY_S
        if self._failing_since is None:
            self._failing_since = time.monotonic()
            logger.warning(
                "traffic log: cannot write to %s (%s); requests are answered without being logged until it can",
                self.path,
                error.strerror or error,
            )

    def _rotate(self) -> None:
        """Close this file and name the next one (opened at the next write)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self.path = self._next_path()
        self._size = 0

    def close(self) -> None:
        """Close the file (records already written stay)."""
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None


def traffic_settings(environ: Mapping[str, str] = os.environ) -> tuple[Path | None, Keep, bool]:
    """(folder or None when logging is off, what to keep, fsync) from the environment.

    Raises:
        ValueError: SPACESUITE_TRAFFIC_KEEP names no known choice.
    """
    folder = environ.get("SPACESUITE_TRAFFIC_DIR", str(DEFAULT_DIR))
    keep = environ.get("SPACESUITE_TRAFFIC_KEEP", "safe").strip().lower()
    if keep not in KEEP_CHOICES:
        raise ValueError(f"SPACESUITE_TRAFFIC_KEEP must be one of {', '.join(KEEP_CHOICES)}, not {keep!r}")
    fsync = environ.get("SPACESUITE_TRAFFIC_FSYNC", "").strip().lower() in {"1", "true", "yes"}
    return (None if folder.strip().lower() in {"", "off", "0", "false"} else Path(folder)), keep, fsync  # type: ignore[return-value]


_log: TrafficLog | None = None
_configured = False
_space = os.environ.get("SPACE_ID", "") or "local"
_config_lock = threading.Lock()


def configure(space: str | None = None, environ: Mapping[str, str] = os.environ) -> TrafficLog | None:
    """Set up this process's traffic log (and the Hub push, when configured) from the environment.

    `space` names the Space in records and file names; on the Hub, `SPACE_ID` wins. Returns the log, or None when
    logging is off.
    """
    global _log, _configured, _space
    with _config_lock:
        _space = environ.get("SPACE_ID", "") or space or _space
        folder, keep, fsync = traffic_settings(environ)
        if _log is not None:
            _log.close()
        _log = TrafficLog(folder, _space, keep=keep, fsync=fsync) if folder is not None else None
        _configured = True
        if _log is not None:
            start_hub_push(_log.folder, environ)
        return _log


def current_log() -> TrafficLog | None:
    """This process's traffic log, set up from the environment on first use."""
    if not _configured:
        configure()
    return _log


def log_record(request: Record) -> None:
    """Append the lines of one request to this process's log (a sink of `shared.service`); a failing disk is
    warned about once (`TrafficLog.write`), never raised."""
    log = current_log()
    if log is None:
        return
    try:
        log.write(log.records(request))
    except Exception as error:  # a record that cannot be written (a bug): said once per kind, never raised
        kind = type(error).__name__
        if kind not in _unwritable:
            _unwritable.add(kind)
            logger.exception("traffic log: a record of %s could not be written", request.model)


def log_feedback(feedback: Feedback) -> None:
    """Append one feedback line to this process's log (a feedback sink of `shared.service`); never raises."""
    log = current_log()
    if log is None:
        return
    try:
        log.write([log.feedback_record(feedback)])
    except Exception:  # a bug: said once, never raised
        if "feedback" not in _unwritable:
            _unwritable.add("feedback")
            logger.exception("traffic log: a feedback on %s could not be written", feedback.model)


_unwritable: set[str] = set()


_scheduler: Any = None


def start_hub_push(folder: Path, environ: Mapping[str, str] = os.environ) -> Any:
    """Push `folder` to the Hub dataset repo `SPACESUITE_TRAFFIC_REPO` with `CommitScheduler` (every
    `SPACESUITE_TRAFFIC_EVERY` ≥ 5 minutes); None when no repo is configured. The token comes from `HF_TOKEN`.

    Raises:
        ValueError: SPACESUITE_TRAFFIC_EVERY is not a number of minutes ≥ 5.
    """
    global _scheduler
    repo = environ.get("SPACESUITE_TRAFFIC_REPO", "").strip()
    if not repo:
        return None
    every = push_interval(environ.get("SPACESUITE_TRAFFIC_EVERY", str(MIN_PUSH_MINUTES)))
    if _scheduler is not None:
        return _scheduler
    from huggingface_hub import CommitScheduler  # only Spaces that push need it

    _scheduler = CommitScheduler(
        repo_id=repo,
        repo_type="dataset",
        folder_path=folder,
        path_in_repo="traffic",
        every=every,
        allow_patterns=["*.jsonl"],
        private=True,
        token=environ.get("HF_TOKEN") or None,
    )
    logger.info("traffic log: pushing %s to the dataset %s every %s min", folder, repo, every)
    return _scheduler


def push_interval(minutes: str) -> float:
    """Minutes between pushes, at least MIN_PUSH_MINUTES.

    Raises:
        ValueError: not a number, or fewer than MIN_PUSH_MINUTES minutes.
    """
    try:
        every = float(minutes)
    except ValueError:
        raise ValueError(f"SPACESUITE_TRAFFIC_EVERY must be minutes (a number), not {minutes!r}") from None
    if not math.isfinite(every) or every < MIN_PUSH_MINUTES:
        raise ValueError(f"SPACESUITE_TRAFFIC_EVERY must be at least {MIN_PUSH_MINUTES} minutes, not {minutes}")
    return every


def read_records(folder: Path, model: str | None = None) -> tuple[list[dict[str, Any]], int]:
    """Every record of the `*.jsonl` files under `folder` (optionally one model's), and how many lines were
    unreadable (a torn last line after a power cut, a hand-edited file)."""
    records: list[dict[str, Any]] = []
    bad = 0
    for path in sorted(Path(folder).rglob("*.jsonl")):
        with path.open(encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    bad += 1
                    continue
                if not isinstance(record, dict):
                    bad += 1
                elif model is None or record.get("model") == model:
                    records.append(record)
    return records, bad
