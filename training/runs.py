"""`spacesuite runs`: the MLflow runs the scikit-learn demos logged, read from their local stores (no server).

mlflow-skinny, which the pipeline installs, has no UI; its client reads the sqlite store the train stage writes
(`build/<model>/mlflow/mlflow.db`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from training.demos import demo
from training.io import read_json
from training.paths import DemoPaths
from training.sklearn_models import candidates_dir, mlflow_store

STORE_FILE = "mlflow.db"


@dataclass(frozen=True)
class RunRow:
    """One logged run: which model and candidate, when, on which data, its val metrics, and whether it was kept."""

    model: str
    experiment: str
    name: str
    run_id: str
    started: datetime
    data_source: str
    metrics: dict[str, float] = field(default_factory=dict)
    kept: bool = False


def tracking_uri(model: str) -> str:
    """The MLflow tracking URI of a model's local store (what `mlflow ui --backend-store-uri` would take)."""
    return f"sqlite:///{(mlflow_store(DemoPaths(model)) / STORE_FILE).resolve()}"


def kept_run(model: str) -> str | None:
    """The run id of the candidate the last train stage kept (its selection.json), or None before any training."""
    selection = candidates_dir(DemoPaths(model)) / "selection.json"
    if not selection.is_file():
        return None
    found = read_json(selection)
    return found.get("mlflow_runs", {}).get(found.get("selected"))


def model_runs(model: str, limit: int) -> list[RunRow]:
    """A model's latest `limit` runs over all its experiments, newest first; empty when it has no store yet."""
    if not (mlflow_store(DemoPaths(model)) / STORE_FILE).is_file():
        return []
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri(model))
    experiments = {e.experiment_id: e.name for e in client.search_experiments()}
    kept = kept_run(model)
    found = client.search_runs(list(experiments), order_by=["attributes.start_time DESC"], max_results=limit)
    return [
        RunRow(
            model=model,
            experiment=experiments[run.info.experiment_id],
            name=run.info.run_name or run.info.run_id[:8],
            run_id=run.info.run_id,
            started=datetime.fromtimestamp(run.info.start_time / 1000, tz=UTC),
            data_source=run.data.tags.get("data.source", "?"),
            metrics=dict(run.data.metrics),
            kept=run.info.run_id == kept,
        )
        for run in found
    ]


def logged_models(models: list[str]) -> list[str]:
    """The models among `models` whose training logs to MLflow (the scikit-learn demos)."""
    return [name for name in models if demo(name).framework == "sklearn"]
