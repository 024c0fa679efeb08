"""The traffic log: one JSON line per answered request, appended by every Space (page and REST alike).

Each record holds the time, the Space, the model and its version, the endpoint, the outcome, the latency and, for
an answer, the inputs that are safe to keep (`shared.descriptors`: form values, the text and its descriptors,
image statistics, never raw pixels unless asked) with the prediction and its confidence. The drift job
(`spacesuite drift --traffic DIR`) reads these files.

Durability: each record is one `write` to a file opened with O_APPEND, made before the answer leaves the app, so a
crash or `kill -9` cannot lose an answered request (the kernel holds the bytes; `SPACESUITE_TRAFFIC_FSYNC=1` also
survives a power cut, at a cost `bench/traffic_log.py` measures). One file per process, never rewritten: the
append-only layout `huggingface_hub.CommitScheduler` expects.

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
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

if TYPE_CHECKING:
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

    def __init__(self, folder: Path, space: str, *, keep: Keep = "safe", fsync: bool = False) -> None:
        if keep not in KEEP_CHOICES:
            raise ValueError(f"SPACESUITE_TRAFFIC_KEEP must be one of {', '.join(KEEP_CHOICES)}, not {keep!r}")
        self.folder = Path(folder)
        self.space = space
        self.keep = keep
        self.fsync = fsync
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        name = f"{_safe_name(space)}-{stamp}-{_safe_name(socket.gethostname())}-{os.getpid()}.jsonl"
        self.path = self.folder / name
        self._fd: int | None = None
        self._lock = threading.Lock()

    def _open(self) -> int:
        if self._fd is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        return self._fd

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
        if not request.predictions:
            return [{**base, "model": request.model, "version": None, "error": request.error[:MAX_ERROR_CHARS]}]
        rows = []
        for prediction in request.predictions:
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
                "inputs": inputs,
                "prediction": _finite(prediction.answer),
                "confidence": prediction.confidence,
            }
            rows.append(row)
        return rows

    def write(self, records: list[dict[str, Any]]) -> None:
        """Append records (one line each) in a single write; fsync when asked."""
        data = "".join(json.dumps(record, ensure_ascii=False, allow_nan=False) + "\n" for record in records)
        payload = data.encode("utf-8")
        with self._lock:
            fd = self._open()
            view = memoryview(payload)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            if self.fsync:
                os.fsync(fd)

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
    logged, never raised."""
    log = current_log()
    if log is None:
        return
    try:
        log.write(log.records(request))
    except OSError:
        logger.exception("traffic log: cannot append to %s", log.path)


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
