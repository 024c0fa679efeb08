"""Train, evaluate and export stages of scikit-learn demos: every candidate pipeline the demo builds is fitted,
logged to MLflow (params, val metrics, the skops file) and compared on the val split; the best by `select_by` is
kept (a tie goes to the candidate listed first). Evaluate scores every candidate on the test split once; export
writes the kept model as a skops file (no pickle) with its spec.json."""

from __future__ import annotations

import os
import shutil
from importlib.metadata import version as package_version
from pathlib import Path

import numpy as np

from shared.artifact import DataProvenance, ModelSpec, TabularInput
from training.baseline import classification_slices
from training.demos import Demo
from training.evaluate import classification_metrics, plot_confusion, write_blessing, write_pairs
from training.io import load_splits, read_json, write_json
from training.params import SklearnSection
from training.paths import DemoPaths
from training.spec import CLASS_INDICES, feature_ranges

SKOPS_FILE = "model.skops"
METRIC_KEYS = {"accuracy": "accuracy", "precision": "precision_macro", "recall": "recall_macro", "f1": "f1_macro"}


def candidates_dir(paths: DemoPaths) -> Path:
    """Train: one skops file per candidate, plus selection.json."""
    return paths.build / "train"


def mlflow_store(paths: DemoPaths) -> Path:
    """The MLflow tracking store (a sqlite file and run artifacts), kept across runs like a server's."""
    return paths.build / "mlflow"


def _mlflow(paths: DemoPaths, experiment: str):
    import mlflow

    store = mlflow_store(paths).resolve()
    store.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(f"sqlite:///{store / 'mlflow.db'}")
    if mlflow.get_experiment_by_name(experiment) is None:
        mlflow.create_experiment(experiment, artifact_location=(store / "artifacts").as_uri())
    mlflow.set_experiment(experiment)
    return mlflow


def train(demo: Demo, section: SklearnSection, seed: int) -> dict:
    """Fit every candidate on the train split, log each run to MLflow, keep the best on val; return the selection."""
    import skops.io as sio

    os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")
    paths = DemoPaths(demo.name)
    splits = load_splits(paths.splits)
    pipelines = demo.build(section, seed)
    out = candidates_dir(paths)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    mlflow = _mlflow(paths, section.mlflow_experiment)
    scores: dict[str, dict[str, float]] = {}
    runs: dict[str, str] = {}
    for name, pipeline in pipelines.items():
        pipeline.fit(splits["x_train"], splits["y_train"])
        scores[name] = classification_metrics(splits["y_val"], pipeline.predict(splits["x_val"]))
        path = out / f"{name}.skops"
        sio.dump(pipeline, path)
        with mlflow.start_run(run_name=name) as run:
            settings = getattr(getattr(section, "candidates", None), name, None)
            mlflow.log_params({"pipeline": name, **(settings.model_dump() if settings else {}), "seed": seed})
            mlflow.log_metrics({f"val_{key}": value for key, value in scores[name].items()})
            mlflow.log_artifact(str(path), artifact_path="model")
            mlflow.set_tag("data.source", section.data.source)
            runs[name] = run.info.run_id
        print(f"train {demo.name}: {name} val " + ", ".join(f"{k} {v:.4f}" for k, v in scores[name].items()))
    key = METRIC_KEYS[section.select_by]
    order = list(scores)
    best = max(scores, key=lambda name: (scores[name][key], -order.index(name)))
    selection = {"selected": best, "select_by": f"val {key}", "val": scores, "mlflow_runs": runs}
    write_json(out / "selection.json", selection)
    shutil.copy2(out / f"{best}.skops", out / SKOPS_FILE)
    store = mlflow_store(paths)
    print(f"train {demo.name}: kept {best} (best val {key} {scores[best][key]:.4f}); MLflow store {store}")
    return selection


def evaluate(demo: Demo, section: SklearnSection) -> dict:
    """Score every candidate on every split; write the comparison, the kept model's metrics, plots and blessing."""
    from shared.sklearn_classifier import load_skops

    paths = DemoPaths(demo.name)
    splits = load_splits(paths.splits)
    selection = read_json(candidates_dir(paths) / "selection.json")
    labels = [str(label) for label in splits["labels"]]
    paths.plots.mkdir(parents=True, exist_ok=True)
    comparison: dict[str, dict[str, dict[str, float]]] = {}
    for name in selection["val"]:
        pipeline = load_skops(candidates_dir(paths) / f"{name}.skops")
        comparison[name] = {}
        for split in ("train", "val", "test"):
            predicted = pipeline.predict(splits[f"x_{split}"])
            comparison[name][split] = {
                **classification_metrics(splits[f"y_{split}"], predicted),
                "rows": len(predicted),
            }
        test_predicted = pipeline.predict(splits["x_test"])
        (paths.plots / "candidates").mkdir(parents=True, exist_ok=True)
        plot_confusion(splits["y_test"], test_predicted, labels, paths.plots / "candidates" / f"{name}.png")
        if name == selection["selected"]:
            kept_predicted = test_predicted
            pairs = ((labels[a], labels[p]) for a, p in zip(splits["y_test"], test_predicted, strict=True))
            write_pairs(paths.plots / "confusion.csv", ("actual", "predicted"), pairs)
            shutil.copy2(paths.plots / "candidates" / f"{name}.png", paths.plots / "confusion.png")
    best = selection["selected"]
    report = {**comparison[best], "selected": best, "candidates": comparison}
    write_json(paths.metrics / "evaluate.json", report)
    for name, splits_metrics in comparison.items():
        test = splits_metrics["test"]
        marker = " (kept)" if name == best else ""
        print(f"evaluate {demo.name}: {name}{marker} test accuracy {test['accuracy']:.4f}, F1 {test['f1_macro']:.4f}")
    slices = classification_slices(splits["y_test"], kept_predicted, labels)
    write_blessing(demo.name, report["test"], section.bless, slices)
    return report


def export(demo: Demo, section: SklearnSection) -> ModelSpec:
    """Write build/<demo>/export/: the kept skops file, spec.json (features with ranges) and class_indices.json."""
    paths = DemoPaths(demo.name)
    splits = load_splits(paths.splits)
    selection = read_json(candidates_dir(paths) / "selection.json")
    out = paths.export
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    shutil.copy2(candidates_dir(paths) / SKOPS_FILE, out / SKOPS_FILE)
    rows = np.concatenate([splits["x_train"], splits["x_val"]])
    spec = ModelSpec(
        name=demo.name,
        version=section.export.version,
        task=demo.task,
        labels=[str(label) for label in splits["labels"]],
        input=TabularInput(features=feature_ranges(list(demo.features), rows)),
        files={"skops": SKOPS_FILE},
        data=DataProvenance.model_validate(read_json(paths.provenance)),
        versions={"scikit-learn": package_version("scikit-learn"), "skops": package_version("skops")},
        trained_with={"pipeline": selection["selected"], "selected_by": selection["select_by"]},
    )
    spec.save(out)
    write_json(out / CLASS_INDICES, {label: index for index, label in enumerate(spec.labels)})
    print(f"export {demo.name}: {selection['selected']} → {out / SKOPS_FILE}")
    return spec
