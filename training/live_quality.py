"""Live quality: how often a classifier's logged answers were right, from its users' feedback.

Each feedback line of the traffic log (`shared.feedback`) names the request and instance it judges; joined to the
answer's own line (same model version), it gives a labelled row: the true label and the prediction. Evidently's
classification metrics (accuracy, recall by label) describe them; the drift job alerts when the accuracy over at
least `drift.min_feedback_rows` rows falls below `drift.min_live_accuracy`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from shared.artifact import ModelSpec
from shared.feedback import FEEDBACK
from shared.traffic import read_records

TARGET, PREDICTION = "target", "prediction"
LIVE_QUALITY = "live_quality"  # the report's name in the drift job's folder


@dataclass
class LiveQuality:
    """A classifier's live figures from feedback: labelled rows, accuracy and recall by true label (None without
    rows), whether the accuracy is below the threshold, and what was left out."""

    labelled: int
    accuracy: float | None = None
    recall: dict[str, float] = field(default_factory=dict)
    below_threshold: bool = False
    checked: bool = False  # enough labelled rows to judge the accuracy
    unmatched: int = 0  # feedback whose answer is not in the log (another folder, a rotated-away file)
    other_version: int = 0  # feedback on answers of another model version

    def as_dict(self) -> dict[str, Any]:
        """The figures for the metrics JSON."""
        return {
            "labelled": self.labelled,
            "accuracy": self.accuracy,
            "recall": self.recall,
            "checked": self.checked,
            "below_threshold": self.below_threshold,
            "unmatched_feedback": self.unmatched,
            "other_version": self.other_version,
        }


def labelled_frame(folder: Path, spec: ModelSpec) -> tuple[pd.DataFrame, int, int]:
    """(true label, prediction) for every answered instance of the current model version that has feedback (the
    latest feedback on an instance wins), and the counts of feedback without its answer and on other versions."""
    records, _ = read_records(folder, spec.name)
    answers: dict[tuple[str, int], str] = {}
    verdicts: dict[tuple[str, int], dict[str, Any]] = {}
    for record in records:
        key = (str(record.get("request")), int(record.get("instance") or 0))
        if record.get("outcome") == "ok" and record.get("prediction") is not None:
            answers[key] = str(record["prediction"])
        elif record.get("outcome") == FEEDBACK and isinstance(record.get("feedback"), dict):
            verdicts[key] = record  # files are read oldest first: a later verdict replaces an earlier one
    rows, unmatched, other_version = [], 0, 0
    for key, record in verdicts.items():
        if record.get("version") != spec.version:
            other_version += 1
        elif key not in answers:
            unmatched += 1
        else:
            rows.append({TARGET: str(record["feedback"].get("label")), PREDICTION: answers[key]})
    return pd.DataFrame(rows, columns=[TARGET, PREDICTION]), unmatched, other_version


def classification_report(frame: pd.DataFrame, spec: ModelSpec) -> tuple[float, dict[str, float], Any]:
    """Evidently's accuracy and recall by label of labelled rows: (accuracy, recall by true label, report).

    Evidently treats rows holding two labels as a binary task (and fails on them as a multiclass one), so such rows
    are described as binary, with the model's first label seen as the positive one.
    """
    from evidently import BinaryClassification, DataDefinition, Dataset, MulticlassClassification, Report
    from evidently.metrics import Accuracy, RecallByLabel

    seen = set(frame[TARGET]) | set(frame[PREDICTION])
    if len(seen) <= 2:
        positive = next(label for label in spec.labels if label in seen)
        task: Any = BinaryClassification(target=TARGET, prediction_labels=PREDICTION, pos_label=positive)
    else:
        task = MulticlassClassification(target=TARGET, prediction_labels=PREDICTION)
    definition = DataDefinition(classification=[task], categorical_columns=[TARGET, PREDICTION])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-learn on a class with no rows: ill-defined precision, set to 0
        report = Report([Accuracy(), RecallByLabel()]).run(Dataset.from_pandas(frame, data_definition=definition))
    accuracy, recall = None, {}
    for metric in report.dict()["metrics"]:
        kind = metric.get("config", {}).get("type", "")
        if kind.endswith(":Accuracy"):
            accuracy = float(metric["value"])
        elif kind.endswith(":RecallByLabel"):
            recall = {str(label): float(value) for label, value in metric["value"].items()}
    assert accuracy is not None, "Evidently's report holds no accuracy"
    true_labels = set(frame[TARGET])
    ordered = {label: recall[label] for label in spec.labels if label in recall and label in true_labels}
    return accuracy, ordered, report


def live_quality(
    folder: Path, spec: ModelSpec, *, min_rows: int, min_accuracy: float, out: Path | None = None, html: bool = True
) -> LiveQuality:
    """The live figures of one classifier from the traffic log in `folder`; with `out`, Evidently's report is saved
    there as `live_quality.json` (and `.html`) when there is at least one labelled row."""
    frame, unmatched, other_version = labelled_frame(folder, spec)
    quality = LiveQuality(labelled=len(frame), unmatched=unmatched, other_version=other_version)
    if frame.empty:
        return quality
    quality.accuracy, quality.recall, report = classification_report(frame, spec)
    quality.checked = len(frame) >= min_rows
    quality.below_threshold = quality.checked and quality.accuracy < min_accuracy
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        report.save_json(str(out / f"{LIVE_QUALITY}.json"))
        if html:
            report.save_html(str(out / f"{LIVE_QUALITY}.html"))
    return quality
