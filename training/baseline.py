"""Evaluation against a baseline, with slices (what TFX's Evaluator did beside its thresholds).

The evaluate stage scores the candidate on the whole test split and on slices of it: each class; for a text model,
buckets of its length in words; for an image model, buckets of its brightness. Both are the numbers the traffic log
keeps per request (`shared.descriptors`), so a slice here is a slice of live traffic too. The scores go to
`metrics/<model>/slices.json` with the data source. The baseline is that file as committed with the last blessed
model: searched back in git from `bless.baseline` (a revision, `HEAD` by default) through the commits that changed
`metrics/<model>/blessing.json`, the first one saying `blessed`. The candidate is blessed only when no score of the
whole split or of a slice (with `bless.min_slice_rows` rows on both sides) is worse than the baseline's by more
than `bless.tolerance`, beyond what its rows can tell apart from chance (`shown_worse`): training is not bit-for-bit
repeatable on CPU, and on the sample's 18 bird photos one photo is 5.6 points of accuracy. A baseline
trained on another data source is not compared with (sample vs real data).
"""

from __future__ import annotations

import itertools
import json
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

from shared.descriptors import image_descriptors, text_descriptors
from shared.text import TextSteps, Vocabulary, check_text, tokenize

ALL = "all"
WORD_EDGES = (5, 10, 20)  # text length buckets: ≤5, 6–10, 11–20, >20 words after preprocessing
BRIGHTNESS_EDGES = (0.25, 0.5, 0.75)  # image buckets by mean pixel of the model input, in [0, 1]
LOWER_IS_BETTER = ("rmse", "mae")
PROPORTIONS = ("accuracy", "f1_macro", "recall", "f1")  # scores over rows, whose noise `shown_worse` allows for
NOISE_Z = 1.96  # 95 % Wilson intervals
SLICES_FILE = "slices.json"
BLESSING_FILE = "blessing.json"


def buckets(values: Sequence[float], edges: Sequence[float], name: str, fmt: str = "{:g}") -> list[str]:
    """The bucket name of each value: `<name> ≤a`, `<name> a–b`, ..., `<name> >z` (a value on an edge goes below)."""
    names = [f"{name} ≤{fmt.format(edges[0])}"]
    names += [f"{name} {fmt.format(low)}–{fmt.format(high)}" for low, high in itertools.pairwise(edges)]
    names.append(f"{name} >{fmt.format(edges[-1])}")
    return [names[int(np.searchsorted(edges, value, side="left"))] for value in values]


def word_counts(texts: Sequence[str], steps: TextSteps, vocabulary: Vocabulary) -> list[int]:
    """Words after preprocessing per text, as the traffic log's `words` descriptor counts them."""
    counts = []
    for text in texts:
        tokens = tokenize(check_text(text), steps)
        counts.append(int(text_descriptors(text, tokens, vocabulary)["words"]))
    return counts


def brightness(inputs: np.ndarray) -> list[float]:
    """Brightness per model input (the traffic log's `brightness` descriptor)."""
    return [image_descriptors(row)["brightness"] for row in inputs]


def classification_slices(
    y_true: np.ndarray, y_pred: np.ndarray, labels: Sequence[str], groups: dict[str, Sequence[str]] | None = None
) -> dict[str, dict[str, float]]:
    """Scores of the whole split (accuracy, macro-F1), of each class (its recall and F1) and of each bucket of
    `groups` (kind → the bucket name of every row: accuracy and macro-F1 within it); each with its row count."""
    slices = {ALL: _scores(y_true, y_pred)}
    _, recall, f1, support = precision_recall_fscore_support(y_true, y_pred, labels=range(len(labels)), zero_division=0)
    for index, label in enumerate(labels):
        slices[f"class {label}"] = {"recall": float(recall[index]), "f1": float(f1[index]), "rows": int(support[index])}
    for names in (groups or {}).values():
        names = np.asarray(names)
        for bucket in sorted(set(names.tolist())):
            rows = names == bucket
            slices[str(bucket)] = _scores(y_true[rows], y_pred[rows])
    return slices


def _scores(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "f1_macro": float(f1_score(y_true, y_pred, average="macro", zero_division=0)),
        "rows": len(y_true),
    }


@dataclass(frozen=True)
class Baseline:
    """The slices of the last blessed model, and the commit they were read from."""

    commit: str
    slices: dict[str, dict[str, float]]
    data_source: str | None


def _git(*args: str, cwd: Path) -> str | None:
    result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    return result.stdout if result.returncode == 0 else None


def find_baseline(metrics_dir: Path, revision: str, *, repo: Path = Path("."), search: int = 50) -> Baseline | None:
    """The committed slices of the last blessed model: the newest commit at or before `revision` whose
    `<metrics_dir>/blessing.json` says blessed and that holds `<metrics_dir>/slices.json`; None without one (no
    git, nothing committed yet)."""
    blessing_path = (Path(metrics_dir) / BLESSING_FILE).as_posix()
    slices_path = (Path(metrics_dir) / SLICES_FILE).as_posix()
    log = _git("log", f"-n{search}", "--format=%H", revision, "--", blessing_path, cwd=repo)
    for commit in (log or "").split():
        blessing = _git("show", f"{commit}:{blessing_path}", cwd=repo)
        if blessing is None or not json.loads(blessing).get("blessed", False):
            continue
        slices = _git("show", f"{commit}:{slices_path}", cwd=repo)
        if slices is None:
            return None  # blessed before slices were kept: nothing to compare with
        data = json.loads(slices)
        return Baseline(commit=commit, slices=data["test"], data_source=data.get("data_source"))
    return None


def wilson_upper(score: float, rows: int, z: float = NOISE_Z) -> float:
    """The upper end of the Wilson score interval of a proportion `score` measured on `rows` rows: the highest true
    score that the measurement does not rule out at the `z` level (a macro-F1 or recall is treated as a proportion)."""
    if rows <= 0:
        return 1.0
    spread = z * z / rows
    center = score + spread / 2
    half = z * np.sqrt(score * (1 - score) / rows + spread / (4 * rows))
    return float(min(1.0, (center + half) / (1 + spread)))


def shown_worse(value: float, base: float, rows: int, tolerance: float) -> bool:
    """Whether a candidate's `value` (an accuracy, F1 or recall) on `rows` rows shows it worse than the baseline's
    `base` by more than `tolerance`: even the top of its 95 % Wilson interval lies below `base - tolerance`. On 18 rows
    one miss against a perfect baseline is noise and two are not; on 2,000 rows the interval is about ±0.012."""
    return wilson_upper(value, rows) < base - tolerance


def _worse_by(key: str, value: float, base: float, rows: int, tolerance: float) -> str | None:
    """How a candidate's score falls short of the baseline's (`> baseline ...` or `< baseline ...`), or None: RMSE and
    MAE by a relative tolerance, an accuracy, F1 or recall when `shown_worse`, any other score by the tolerance."""
    if key in LOWER_IS_BETTER:
        return f"> baseline {base:.4f} +{tolerance:.0%}" if value > base * (1 + tolerance) else None
    if key in PROPORTIONS:
        if not shown_worse(value, base, rows, tolerance):
            return None
        upper = wilson_upper(value, rows)
        return f"< baseline {base:.4f} - {tolerance} (at most {upper:.4f} on {rows} rows, 95 % sure)"
    return f"< baseline {base:.4f} - {tolerance}" if value < base - tolerance else None


def compare(
    candidate: dict[str, dict[str, float]],
    baseline: dict[str, dict[str, float]],
    *,
    tolerance: float,
    min_rows: int,
) -> list[str]:
    """One line per score of a slice where the candidate is worse than the baseline by more than `tolerance`
    (absolute for scores in [0, 1], relative for RMSE and MAE), naming the slice; an accuracy, F1 or recall also has
    to be shown worse by the slice's rows (`shown_worse`). Slices with fewer than `min_rows` rows on
    either side, or missing on one side, are not compared (the whole split always is)."""
    failures = []
    for name, scores in candidate.items():
        base = baseline.get(name)
        if base is None:
            continue
        if name != ALL and min(scores.get("rows", 0), base.get("rows", 0)) < min_rows:
            continue
        rows = int(scores.get("rows", 0))
        for key, value in scores.items():
            if key == "rows" or key not in base:
                continue
            if why := _worse_by(key, value, base[key], rows, tolerance):
                failures.append(f"slice {name}: test {key} {value:.4f} {why}")
    return failures
