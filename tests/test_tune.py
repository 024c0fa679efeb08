"""`spacesuite tune`: every trial a DVC experiment, ranked by `dvc exp show`, the best taken by `dvc exp apply`."""

from __future__ import annotations

import csv
import io
import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import REPO, run

METRIC = "metrics/emotion/evaluate.json:val.f1_macro"


def only_model(repo: Path, name: str) -> None:
    """Keep only `name`'s stages in the copy's dvc.yaml and dvc.lock.

    DVC reads the whole pipeline and rewrites the whole lock file for each stage it runs: the other models' stages
    would triple the time of every trial, and the search runs none of them.
    """
    pipeline = yaml.safe_load((repo / "dvc.yaml").read_text())
    for group in pipeline["vars"]:
        for key, members in group.items():
            group[key] = {member: value for member, value in members.items() if member == name}
    kept = {key for group in pipeline["vars"] for key, members in group.items() if members}
    pipeline["stages"] = {
        stage: body for stage, body in pipeline["stages"].items() if str(body.get("foreach", "")).strip("${}") in kept
    }
    (repo / "dvc.yaml").write_text(yaml.safe_dump(pipeline, sort_keys=False))
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    lock["stages"] = {stage: body for stage, body in lock["stages"].items() if stage.endswith(f"@{name}")}
    (repo / "dvc.lock").write_text(yaml.safe_dump(lock, sort_keys=False))


def tune_emotion(repo: Path) -> tuple[Path, str, subprocess.CompletedProcess[str]]:
    """`spacesuite tune emotion` in a copy of the tiny repo cut to emotion's stages, 2 epochs a trial (the search is
    under test, not the model): the copy, its params.yaml before, and the run."""
    only_model(repo, "emotion")
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["emotion"]["train"]["epochs"] = 2
    before = yaml.safe_dump(params, sort_keys=False)
    (repo / "params.yaml").write_text(before)
    return repo, before, run(["spacesuite", "tune", "emotion"], repo, timeout=600)  # tiny params: 2 trials


@pytest.mark.slow
@pytest.mark.on_tiny_repo_copy.with_args(tune_emotion)  # experiments change the workspace: a copy, not the shared run's
def test_tune_leaves_ranked_dvc_experiments(tiny_repo_copy_job: tuple[Path, str, subprocess.CompletedProcess]) -> None:
    repo, before, result = tiny_repo_copy_job
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "2 trials by val.f1_macro (maximize)" in result.stdout
    best = result.stdout.split("applied the best, ")[1].split(":")[0]
    shown = run(["dvc", "exp", "show", "--csv", "--sort-by", METRIC, "--sort-order", "desc"], repo)
    assert shown.returncode == 0, shown.stderr
    rows = [row for row in csv.DictReader(io.StringIO(shown.stdout)) if row["Experiment"].startswith("emotion-")]
    assert len(rows) == 2 and rows[0]["Experiment"] == best  # ranked best first
    assert float(rows[0][METRIC]) >= float(rows[1][METRIC])
    tried = {float(row["emotion.model.lstm_units"]) for row in rows}
    assert tried <= {8, 16}  # the tiny space (training/demos/emotion.py)

    after = (repo / "params.yaml").read_text()  # `dvc exp apply <best>` at the end
    changed = [line for line, was in zip(after.splitlines(), before.splitlines(), strict=True) if line != was]
    searched = yaml.safe_load(before)["emotion"]["tune"]["space"]
    assert 1 <= len(changed) <= len(searched)  # the tuned values only: the file's layout is kept
    applied = yaml.safe_load(after)["emotion"]
    assert applied["train"]["learning_rate"] == float(rows[0]["emotion.train.learning_rate"])
    assert applied["model"]["dropout"] == float(rows[0]["emotion.model.dropout"])


@pytest.mark.parametrize(
    ("space", "named"),
    [
        ({"model.lstm_unit": [8, 16]}, "emotion.tune.space names 'model.lstm_unit'"),
        ({"model.dropout": {"low": 1.2, "high": 1.5}}, "model.dropout"),  # the demo's params refuse it: before a run
    ],
)
def test_a_space_outside_the_params_schema_is_named(tmp_path: Path, space: dict, named: str) -> None:
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    raw["emotion"]["tune"]["space"] = space
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    result = run(["spacesuite", "tune", "emotion"], tmp_path)
    assert result.returncode == 1
    assert named in result.stderr
    assert "Traceback" not in result.stderr and "trial 1/" not in result.stdout
