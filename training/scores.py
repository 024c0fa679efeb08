"""`spacesuite metrics`: each model's committed scores in one table that fits a terminal.

`dvc metrics show` puts every key of every metrics file in one row per file (thousands of columns here); this reads
the same files (`metrics/<model>/evaluate.json`, `metrics/drift/<model>.json`) and keeps one split's headline
scores and the drift job's rates, a row per model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from training.io import read_json
from training.paths import DemoPaths

EVALUATE_FILE = "evaluate.json"
DRIFT_METRICS_DIR = Path("metrics") / "drift"  # the drift stage writes metrics/drift/<model>.json (dvc.yaml)
# column → (file, key in it); the evaluate keys are read under the chosen split
COLUMNS = {
    "accuracy": ("evaluate", "accuracy"),
    "f1": ("evaluate", "f1_macro"),
    "rmse": ("evaluate", "rmse"),
    "mae": ("evaluate", "mae"),
    "r2": ("evaluate", "r2"),
    "drift found": ("drift", "detection_rate"),
    "false alarms": ("drift", "false_alarm_rate"),
}


def _read(path: Path) -> dict[str, Any]:
    return read_json(path) if path.is_file() else {}


def score_row(model: str, split: str) -> dict[str, Any]:
    """One model's headline scores on `split` and its drift rates; a column the files lack is None."""
    found = {
        "evaluate": _read(DemoPaths(model).metrics / EVALUATE_FILE).get(split, {}),
        "drift": _read(DRIFT_METRICS_DIR / f"{model}.json").get(model, {}),
    }
    return {column: found[source].get(key) for column, (source, key) in COLUMNS.items()}


def formatted(column: str, value: Any) -> str:
    """A cell: rates as percentages, scores with 3 decimals, `-` for a missing value."""
    if value is None:
        return "-"
    if column in ("drift found", "false alarms"):
        return f"{value:.0%}"
    return f"{value:.3f}"
