"""The drift job: is traffic still like the data each model learned from?

For every model: describe reference rows of its ingested data (held-out rows: what a Space sees) with the Space's
own code (`shared.descriptors`, through the same classes that serve requests); make synthetic traffic for each
scenario (no shift and injected shifts, several seeds) as inputs that the same model class answers
(`training.synthetic`: SDV for feature rows, held-out texts and images otherwise); compare each with the reference
in an Evidently data-drift report. The detection rate (injected shifts flagged) and the false-alarm rate (no-shift
flagged) go to the metrics. With `traffic`, the real logged answers (`shared.traffic`) are compared too; drift
there sends an alert and makes the job fail. A classifier's answers that users gave feedback on also give its live
accuracy and recall by label (`training.live_quality`); an accuracy below `drift.min_live_accuracy` alerts and
fails the job too.

A model drifts when at least one column's Evidently drift test fails (score at or above its threshold).
"""

from __future__ import annotations

import logging
import os
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shared.artifact import ModelSpec
from shared.descriptors import CONFIDENCE, CONFIDENCE_LOG_ODDS, PREDICTION, descriptor_columns, log_odds
from shared.errors import InputError
from shared.feedback import FEEDBACK
from shared.traffic import read_records
from training.demos import demo
from training.extras import require
from training.io import write_json
from training.live_quality import LiveQuality, live_quality
from training.params import DriftParams, load_params
from training.paths import BUILD_DIR, DemoPaths
from training.prepare import split_indices
from training.progress import Step, no_steps
from training.synthetic import NO_SHIFT, Answered, Describe, input_source, memoized, scenarios, synthetic_traffic

logger = logging.getLogger(__name__)
DRIFT_DIR = BUILD_DIR / "drift"
DRIFT_METRICS = Path("metrics") / "drift.json"
TRAFFIC = "traffic"


@dataclass
class Verdict:
    """One Evidently comparison: did it flag drift, which columns, every column's score, and (for an injected
    shift) whether a shifted column was among those flagged."""

    model: str
    scenario: str
    seed: int
    rows: int
    drift: bool
    drifted: list[str]
    scores: dict[str, float]
    detected: bool | None = None

    def row(self) -> dict[str, Any]:
        """One line of the summary table."""
        return {
            "model": self.model,
            "scenario": self.scenario,
            "seed": self.seed,
            "rows": self.rows,
            "drift": self.drift,
            "detected": self.detected,
            "drifted_columns": " ".join(self.drifted),
        }


MIN_HELD_OUT = 200  # held-out rows below which (the sample data) the reference is drawn from every row
BATCH = 256  # inputs per model call when answering synthetic traffic


@dataclass
class Reference:
    """A model's reference: inputs the Space accepted, their descriptors and true targets, the inputs its synthetic
    text or image traffic is drawn from (`pool`: other held-out rows, or the reference's own when too few are
    left), and whether the rows are held-out ones."""

    answered: Answered
    targets: np.ndarray
    pool: np.ndarray
    held_out: bool
    pool_is_reference: bool

    @property
    def frame(self) -> pd.DataFrame:
        """The reference descriptors, as the drift report compares them."""
        return self.answered.frame


def describer(spec: ModelSpec, folder: Path) -> Describe:
    """A function from a batch of raw inputs (image arrays, texts, feature rows) to the descriptors a Space logs for
    each answer (`typed`), computed by the Space's own model class, in batches as its REST endpoint runs them (so
    reference and traffic are described alike). Inputs the Space would refuse are left out and counted."""
    from shared.service import load_model

    model = load_model(folder)
    as_instance = {"image": np.asarray, "text": str, "tabular": lambda raw: [float(value) for value in raw]}
    convert = as_instance[spec.input.kind]
    numerical, categorical = drift_columns(spec)

    def describe(inputs: np.ndarray) -> Answered:
        kept, prepared = [], []
        for index, raw in enumerate(inputs):
            try:
                prepared.append(model.prepare(convert(raw)))
                kept.append(index)
            except InputError:
                pass
        records = []
        for start in range(0, len(prepared), BATCH):
            chunk = prepared[start : start + BATCH]
            outputs = model.run(np.concatenate([item.inputs for item in chunk]))
            for item, output in zip(chunk, outputs, strict=True):
                prediction = model.finish(item, output)
                described = {**prediction.inputs, PREDICTION: prediction.answer}
                if prediction.confidences is not None:
                    described[CONFIDENCE] = prediction.confidence
                records.append(described)
        frame = pd.DataFrame.from_records(records) if records else pd.DataFrame(columns=numerical + categorical)
        rows = np.asarray(kept, dtype=int)
        return Answered(inputs[rows], rows, typed(frame, numerical, categorical), len(inputs) - len(kept))

    return describe


def held_out_rows(model: str, targets: np.ndarray, fold: np.ndarray) -> np.ndarray:
    """Row numbers of the ingested rows the prepare stage kept out of training (val and test)."""
    params = load_params()
    split = params.model(model).prepare
    parts = split_indices(targets, split, params.base.seed, stratify=demo(model).is_classifier, fold=fold)
    return np.sort(np.concatenate([parts["val"], parts["test"]]))


def reference_frame(model: str, spec: ModelSpec, describe: Describe, rows: int, seed: int) -> Reference:
    """The model's reference: a seeded draw of up to `rows` ingested rows, described by the Space's own class.

    The rows are the held-out ones (val and test), as the inputs a Space sees are ones the model never trained
    on: a text model's vocabulary comes from the train split, so train texts have every word known and others do
    not. With fewer than `MIN_HELD_OUT` held-out rows (the sample data) every row is used. The pool that text and
    image traffic is drawn from is the rows the reference did not draw when there are at least `rows` of them (two
    independent samples, as the reference and a Space's traffic are); with fewer, the reference rows themselves
    (halving a few hundred rows made two samples that differ by chance: sample birds, 60 against 60, on every
    seed)."""
    with np.load(DemoPaths(model).dataset) as dataset:
        inputs, targets, fold = dataset["x"], dataset["y"], dataset["fold"]
    if spec.input.kind == "tabular":  # the decimals a form sends: float32's 5.1 is 5.0999999 < a minimum of 5.1
        inputs = inputs.astype(str).astype(np.float64)
    candidates = held_out_rows(model, targets, fold)
    held_out = len(candidates) >= MIN_HELD_OUT
    if not held_out:
        candidates = np.arange(len(inputs))
    shuffled = np.random.default_rng(seed).permutation(candidates)
    chosen = np.sort(shuffled[:rows])
    answered = describe(inputs[chosen])
    rest = np.sort(shuffled[rows:])
    pool = inputs[rest] if len(rest) >= rows else answered.inputs
    return Reference(answered, targets[chosen[answered.kept]], pool, held_out, pool_is_reference=len(rest) < rows)


def drift_columns(spec: ModelSpec) -> tuple[list[str], list[str]]:
    """(numerical, categorical) columns the job compares: the logged descriptors, with the confidence as log-odds.

    Softmax confidences crowd just below 1 (median 0.999 for gender): there a copula's fitted marginals and a
    Wasserstein distance normed by the spread both see noise as drift. On the log-odds scale they do not."""
    numerical, categorical = descriptor_columns(spec)
    return [CONFIDENCE_LOG_ODDS if column == CONFIDENCE else column for column in numerical], categorical


def typed(frame: pd.DataFrame, numerical: list[str], categorical: list[str]) -> pd.DataFrame:
    """The compared columns only: numbers as float, categories as text (the SDV and Evidently column types); a
    logged `confidence` becomes `confidence_log_odds`."""
    if CONFIDENCE_LOG_ODDS in numerical and CONFIDENCE_LOG_ODDS not in frame.columns and CONFIDENCE in frame.columns:
        frame = frame.assign(**{CONFIDENCE_LOG_ODDS: log_odds(pd.to_numeric(frame[CONFIDENCE], errors="coerce"))})
    missing = [column for column in numerical + categorical if column not in frame.columns]
    if missing:
        raise ValueError(f"descriptor columns missing: {', '.join(missing)}")
    out = frame[numerical + categorical].copy()
    for column in numerical:
        out[column] = pd.to_numeric(out[column], errors="coerce").astype(float)
    for column in categorical:
        values = out[column]
        if pd.api.types.is_numeric_dtype(values):  # a yes/no feature logged as 0.0/1.0: one spelling for both
            values = values.round().astype("Int64")
        out[column] = values.astype(str)
    return out


def traffic_frame(folder: Path, spec: ModelSpec) -> tuple[pd.DataFrame, dict[str, int]]:
    """The model's logged answers (current version, outcome ok, not explanations) as descriptors, and counts of what
    was left out."""
    records, unreadable = read_records(folder, spec.name)
    rows, other_version, refused, incomplete, explanations = [], 0, 0, 0, 0
    numerical, categorical = descriptor_columns(spec)
    compared = drift_columns(spec)
    for record in records:
        if record.get("outcome") == FEEDBACK:
            continue  # a user's verdict, not an answer (training.live_quality reads them)
        if record.get("explanation"):  # an explanation of an answer the log holds already (or a REST client's)
            explanations += 1
            continue
        if record.get("outcome") != "ok":
            refused += 1
            continue
        if record.get("version") != spec.version:
            other_version += 1
            continue
        row = {**(record.get("inputs") or {}), PREDICTION: record.get("prediction"), CONFIDENCE: record.get(CONFIDENCE)}
        if any(row.get(column) is None for column in numerical + categorical):
            incomplete += 1
            continue
        rows.append(row)
    counts = {
        "used": len(rows),
        "unreadable_lines": unreadable,
        "refused": refused,
        "other_version": other_version,
        "incomplete": incomplete,
        "explanations": explanations,
    }
    frame = pd.DataFrame.from_records(rows) if rows else pd.DataFrame(columns=numerical + categorical)
    return typed(frame, *compared), counts


def compare(
    reference: pd.DataFrame, current: pd.DataFrame, numerical: list[str], categorical: list[str], params: DriftParams
) -> tuple[bool, list[str], dict[str, float], Any]:
    """An Evidently data-drift report of `current` against `reference`: (drift, drifted columns, scores, report)."""
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    definition = DataDefinition(numerical_columns=numerical, categorical_columns=categorical)
    preset = DataDriftPreset(
        num_method=params.num_method,
        cat_method=params.cat_method,
        num_threshold=params.num_threshold,
        cat_threshold=params.cat_threshold,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a constant reference column (every word known) divides by 0
        report = Report([preset], include_tests=True).run(
            Dataset.from_pandas(current, data_definition=definition),
            Dataset.from_pandas(reference, data_definition=definition),
        )
    scores, drifted = column_results(report.dict())
    return bool(drifted), drifted, scores, report


def column_results(snapshot: Mapping[str, Any]) -> tuple[dict[str, float], list[str]]:
    """Each column's drift score, and the columns whose Evidently drift test failed, from `Snapshot.dict()`."""
    columns: dict[str, str] = {}
    scores: dict[str, float] = {}
    for metric in snapshot.get("metrics", []):
        config = metric.get("config", {})
        if config.get("type", "").endswith(":ValueDrift"):
            columns[metric["id"]] = config["column"]
            scores[config["column"]] = float(metric["value"])
    drifted = [
        columns[test["metric_config"]["metric_id"]]
        for test in snapshot.get("tests", [])
        if test.get("metric_config", {}).get("metric_id") in columns and test.get("status") == "FAIL"
    ]
    return scores, sorted(set(drifted))


def save_report(report: Any, folder: Path, name: str, html: bool) -> None:
    """`<name>.json` (and `<name>.html`) of an Evidently report in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    report.save_json(str(folder / f"{name}.json"))
    if html:
        report.save_html(str(folder / f"{name}.html"))


def check_scenarios(
    model: str,
    reference: Reference,
    spec: ModelSpec,
    describe: Describe,
    params: DriftParams,
    out: Path,
    seed: int,
    step: Step = no_steps,
) -> tuple[list[Verdict], float, int]:
    """Run every scenario with `params.seeds` seeds of synthetic traffic (inputs answered by the Space's model
    class); reports of seed 0 are saved. `step` hears of each comparison done. Returns the verdicts, the input
    source's set-up time in seconds (the SDV fit for tabular models) and how many synthetic inputs the model
    refused."""
    numerical, categorical = drift_columns(spec)
    planned = scenarios(spec, reference.frame, reference.answered.inputs, params.shifts)
    total = params.seeds * len(planned)
    step(model, 0, total)
    start = time.perf_counter()
    source = input_source(spec, params, reference.answered.inputs, reference.targets, reference.pool)
    describe = memoized(describe, reference.answered)  # a bootstrap draws the same held-out inputs again and again
    setup_s = time.perf_counter() - start
    verdicts, refused = [], 0
    for index in range(params.seeds):
        rng = np.random.default_rng([seed, index])
        for traffic in synthetic_traffic(planned, source, describe, params.synthetic_rows, rng):
            scenario, current = traffic.scenario, traffic.frame
            if scenario.inputs is not None or not scenario.injected:  # unshifted inputs: answered once, counted once
                refused += traffic.refused
            drift, drifted, scores, report = compare(reference.frame, current, numerical, categorical, params)
            detected = bool(set(scenario.columns) & set(drifted)) if scenario.injected else None
            verdicts.append(Verdict(model, scenario.name, index, len(current), drift, drifted, scores, detected))
            if index == 0:
                save_report(report, out / model, scenario.name, params.html)
            step(model, len(verdicts), total)
    return verdicts, setup_s, refused


def rates(verdicts: list[Verdict]) -> dict[str, float]:
    """Detection rate (injected-shift runs whose shifted column was flagged) and false-alarm rate (no-shift runs
    flagged at all)."""
    shifted = [bool(v.detected) for v in verdicts if v.detected is not None]
    quiet = [v.drift for v in verdicts if v.scenario == NO_SHIFT]
    return {
        "detection_rate": float(np.mean(shifted)) if shifted else float("nan"),
        "false_alarm_rate": float(np.mean(quiet)) if quiet else float("nan"),
        "injected_runs": len(shifted),
        "no_shift_runs": len(quiet),
    }


def summary_markdown(
    verdicts: list[Verdict], traffic_notes: Mapping[str, str], feedback_notes: Mapping[str, str] | None = None
) -> str:
    """A Markdown table: per model and scenario, runs flagged / runs, and the columns that drifted; then each
    model's real traffic and its live accuracy from feedback."""
    frame = pd.DataFrame([verdict.row() for verdict in verdicts])
    lines = ["| model | scenario | flagged | drifted columns |", "|---|---|---:|---|"]
    if not frame.empty:
        for (model, scenario), group in frame.groupby(["model", "scenario"], sort=False):
            columns = sorted({c for cell in group["drifted_columns"] for c in cell.split()})
            lines.append(
                f"| {model} | {scenario} | {int(group['drift'].sum())}/{len(group)} | {', '.join(columns) or '-'} |"
            )
    for model, note in traffic_notes.items():
        lines.append(f"| {model} | traffic | - | {note} |")
    for model, note in (feedback_notes or {}).items():
        lines.append(f"| {model} | feedback | - | {note} |")
    return "\n".join(lines) + "\n"


def run(
    models: list[str],
    params: DriftParams,
    *,
    seed: int,
    out: Path = DRIFT_DIR,
    metrics_path: Path = DRIFT_METRICS,
    traffic: Path | None = None,
    progress: Callable[[str], None] = print,
    step: Step = no_steps,
) -> tuple[list[Verdict], dict[str, Any]]:
    """The whole job for `models`: reports under `out`, summary (`summary.md`, `summary.csv`) and metrics JSON.

    `progress` hears one line per model done, `step` of each comparison. Returns every verdict and the metrics.
    Verdicts of real traffic have scenario `traffic`.

    Raises:
        MissingExtra: SDV or Evidently is not installed (said before any work starts).
    """
    for module in ("sdv", "evidently"):
        require(module, "spacesuite drift")
    os.environ.setdefault("DO_NOT_TRACK", "1")  # Evidently's telemetry
    out.mkdir(parents=True, exist_ok=True)
    verdicts: list[Verdict] = []
    metrics: dict[str, Any] = {}
    traffic_notes: dict[str, str] = {}
    feedback_notes: dict[str, str] = {}
    for model in models:
        start = time.perf_counter()
        spec = ModelSpec.load(DemoPaths(model).export)
        describe = describer(spec, DemoPaths(model).export)
        reference = reference_frame(model, spec, describe, params.reference_rows, seed)
        model_verdicts, setup_s, traffic_refused = check_scenarios(
            model, reference, spec, describe, params, out, seed, step
        )
        metrics[model] = {
            **rates(model_verdicts),
            "reference_rows": len(reference.frame),
            "reference_refused": reference.answered.refused,
            "reference_held_out": reference.held_out,
            "traffic_from_reference": reference.pool_is_reference,
            "synthetic_refused": traffic_refused,
        }  # no wall times: DVC tracks this file
        if traffic is not None:
            live, counts = traffic_frame(traffic, spec)
            metrics[model]["traffic"] = counts
            if len(live) >= params.min_traffic_rows:
                numerical, categorical = drift_columns(spec)
                drift, drifted, scores, report = compare(reference.frame, live, numerical, categorical, params)
                save_report(report, out / model, TRAFFIC, params.html)
                model_verdicts.append(Verdict(model, TRAFFIC, 0, len(live), drift, drifted, scores))
                metrics[model]["traffic"]["drift"] = drift
                traffic_notes[model] = ", ".join(drifted) if drift else "no drift"
            else:
                traffic_notes[model] = f"not checked: {len(live)} answers, fewer than {params.min_traffic_rows}"
            if spec.labels:
                quality = live_quality(
                    traffic,
                    spec,
                    min_rows=params.min_feedback_rows,
                    min_accuracy=params.min_live_accuracy,
                    out=out / model,
                    html=params.html,
                )
                metrics[model]["live"] = quality.as_dict()
                feedback_notes[model] = quality_note(quality, params)
        verdicts.extend(model_verdicts)
        flagged = ", ".join(sorted({v.scenario for v in model_verdicts if v.drift})) or "none"
        progress(
            f"drift {model}: {len(reference.frame)} reference rows, {params.seeds} seed(s), "
            f"flagged: {flagged} ({time.perf_counter() - start:.1f} s, synthetic inputs set up in {setup_s:.1f} s)"
        )
    all_rates = rates(verdicts)
    metrics["all"] = {key: all_rates[key] for key in ("detection_rate", "false_alarm_rate")}
    pd.DataFrame([v.row() for v in verdicts]).to_csv(out / "summary.csv", index=False)
    (out / "summary.md").write_text(summary_markdown(verdicts, traffic_notes, feedback_notes), encoding="utf-8")
    metrics_path.parent.mkdir(parents=True, exist_ok=True)
    write_json(metrics_path, _rounded(metrics))
    return verdicts, metrics


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return None if np.isnan(value) else round(value, 4)
    if isinstance(value, dict):
        return {key: _rounded(item) for key, item in value.items()}
    return value


def quality_note(quality: LiveQuality, params: DriftParams) -> str:
    """One cell of the summary: the live accuracy and recall by label, or why they were not judged."""
    if quality.accuracy is None:
        return "no feedback"
    recall = ", ".join(f"{label} {value:.0%}" for label, value in quality.recall.items())
    figures = f"live accuracy {quality.accuracy:.1%} over {quality.labelled} labelled answers; recall {recall}"
    if not quality.checked:
        return f"{figures} (not judged: fewer than {params.min_feedback_rows})"
    return f"{figures}: BELOW {params.min_live_accuracy:.0%}" if quality.below_threshold else figures


def low_accuracy_models(metrics: Mapping[str, Any]) -> list[str]:
    """The models whose live accuracy (from feedback) fell below the threshold in a run's metrics."""
    return [model for model, figures in metrics.items() if figures.get("live", {}).get("below_threshold")]


def quality_alert_text(metrics: Mapping[str, Any], params: DriftParams, out: Path) -> str:
    """The alert for live accuracy below `drift.min_live_accuracy`: which models, their accuracy and recall."""
    lines = [f"Spacesuite drift job: live accuracy from users' feedback is below {params.min_live_accuracy:.0%}."]
    for model in low_accuracy_models(metrics):
        live = metrics[model]["live"]
        recall = ", ".join(f"{label} {value:.0%}" for label, value in live["recall"].items())
        lines.append(f"- {model}: {live['accuracy']:.1%} over {live['labelled']:,} labelled answers (recall {recall})")
    lines.append(f"Reports: {out}/<model>/live_quality.html")
    return "\n".join(lines)


def alert_text(verdicts: list[Verdict], out: Path) -> str:
    """The alert for drift in real traffic: which models and columns, with their scores, and where the reports are."""
    lines = ["Spacesuite drift job: live traffic has drifted."]
    for verdict in verdicts:
        if verdict.scenario == TRAFFIC and verdict.drift:
            columns = ", ".join(f"{c} ({verdict.scores.get(c, float('nan')):.2f})" for c in verdict.drifted)
            lines.append(f"- {verdict.model}: {columns} over {verdict.rows:,} answers")
    lines.append(f"Reports: {out}/<model>/traffic.html")
    return "\n".join(lines)
