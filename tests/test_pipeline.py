"""The real pipeline: `dvc repro` on tiny params produces every output; a second run does nothing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import run

from shared.artifact import ModelSpec
from training.demos import demo, demos

pytestmark = pytest.mark.slow


MODELS = [demo.name for demo in demos() if demo.framework == "keras"]


@pytest.mark.parametrize("model", MODELS)
def test_every_stage_writes_its_outputs(tiny_repo: Path, model: str) -> None:
    build = tiny_repo / "build" / model
    serving = build / "export" / "serving" / model / "1"
    plot = "predictions" if model == "housing" else "confusion"
    for path in [
        build / "ingest" / "dataset.npz",
        build / "statistics" / "statistics.html",
        build / "prepare" / "splits.npz",
        build / "train" / "model.keras",
        serving / "saved_model.pb",
        build / "export" / "model.tflite",
        build / "export" / "model_quant.tflite",
        build / "export" / "keras_test_outputs.npy",  # parity's reference
        build / "tfjs" / "model.json",
        tiny_repo / "dvclive" / model / "plots" / "metrics" / "train" / "loss.tsv",
        tiny_repo / "dvclive" / model / "plots" / "metrics" / "eval" / "loss.tsv",
        tiny_repo / "plots" / model / f"{plot}.csv",
        tiny_repo / "plots" / model / f"{plot}.png",
    ]:
        assert path.is_file(), f"missing {path.relative_to(tiny_repo)}"
    quantized, full = ((build / "export" / name).stat().st_size for name in ("model_quant.tflite", "model.tflite"))
    assert quantized < full or model == "housing"  # a tiny regressor has no tensor large enough to quantize


@pytest.mark.parametrize("space", ["sign-language", "bird-species", "keras-basics", "emotion", "gender"])
def test_every_space_is_bundled(spaces_dir: Path, space: str) -> None:
    for name in ("app.py", "README.md", "requirements.txt", "shared/ui.py"):
        assert (spaces_dir / space / name).is_file(), f"{space} lacks {name}"


@pytest.mark.parametrize("model", ["sign-language", "bird-species", "digits", "emotion"])
def test_classifier_metrics_per_split_and_parity(tiny_repo: Path, model: str) -> None:
    evaluation = json.loads((tiny_repo / "metrics" / model / "evaluate.json").read_text())
    assert set(evaluation) == {"train", "val", "test"}
    for split in evaluation.values():
        assert set(split) == {"accuracy", "precision_macro", "recall_macro", "f1_macro", "rows"}
    parity = json.loads((tiny_repo / "metrics" / model / "parity.json").read_text())
    assert parity["float"]["max_abs_diff"] < 1e-3
    assert (tiny_repo / "build" / model / "export" / "class_indices.json").is_file()


def test_gender_compares_both_candidates_and_logs_them_to_mlflow(tiny_repo: Path) -> None:
    import sqlite3

    evaluation = json.loads((tiny_repo / "metrics" / "gender" / "evaluate.json").read_text())
    assert set(evaluation["candidates"]) == {"gaussian_nb", "logistic_regression"}
    assert evaluation["selected"] in evaluation["candidates"]
    assert evaluation["test"] == evaluation["candidates"][evaluation["selected"]]["test"]
    for name in evaluation["candidates"]:
        assert (tiny_repo / "plots" / "gender" / "candidates" / f"{name}.png").is_file()
    with sqlite3.connect(tiny_repo / "build" / "gender" / "mlflow" / "mlflow.db") as db:
        runs = dict(db.execute("SELECT name, status FROM runs"))
        metrics = {row[0] for row in db.execute("SELECT key FROM metrics")}
    assert set(runs) >= {"gaussian_nb", "logistic_regression"} and set(runs.values()) == {"FINISHED"}
    assert {"val_accuracy", "val_f1_macro"} <= metrics
    spec = ModelSpec.load(tiny_repo / "dist" / "spaces" / "gender" / "model")
    assert spec.trained_with["pipeline"] == evaluation["selected"]
    requirements = (tiny_repo / "dist" / "spaces" / "gender" / "requirements.txt").read_text()
    assert "scikit-learn==" in requirements and "skops==" in requirements and "tensorflow" not in requirements


def test_sign_language_split_fractions(tiny_repo: Path) -> None:
    sizes = json.loads((tiny_repo / "build" / "sign-language" / "prepare" / "sizes.json").read_text())
    assert sizes["train"] == pytest.approx(0.8 * sum(sizes.values()), abs=2)


def test_digits_keep_the_files_own_test_set(tiny_repo: Path) -> None:
    from training.demos.digits import read_npz

    arrays = read_npz(tiny_repo / "data" / "sample" / "digits" / "mnist.npz")
    sizes = json.loads((tiny_repo / "build" / "digits" / "prepare" / "sizes.json").read_text())
    assert sizes["test"] == len(arrays["y_test"])
    assert sizes["train"] + sizes["val"] == len(arrays["y_train"])


def test_housing_regression_metrics_and_parity(tiny_repo: Path) -> None:
    evaluation = json.loads((tiny_repo / "metrics" / "housing" / "evaluate.json").read_text())
    assert set(evaluation["test"]) == {"rmse", "mae", "r2", "rows"}
    assert evaluation["test"]["rmse"] > 0
    parity = json.loads((tiny_repo / "metrics" / "housing" / "parity.json").read_text())
    assert parity["float"]["max_abs_diff"] < 1e-3
    rows = (tiny_repo / "plots" / "housing" / "predictions.csv").read_text().splitlines()
    assert rows[0] == "actual,predicted" and len(rows) == evaluation["test"]["rows"] + 1


def test_split_is_stratified(tiny_repo: Path) -> None:
    with np.load(tiny_repo / "build" / "sign-language" / "prepare" / "splits.npz") as splits:
        for split in ("train", "val", "test"):
            assert set(splits[f"y_{split}"].tolist()) == set(range(24)), f"{split} lacks a letter"


def test_bundle_describes_itself(bundle_dir: Path) -> None:
    spec = ModelSpec.load(bundle_dir / "model")
    assert spec.data.source == "sample"
    assert 0.0 <= spec.metrics["accuracy"] <= 1.0
    readme = (bundle_dir / "README.md").read_text()
    assert readme.startswith("---\ntitle: Sign-language letters")
    assert "sdk: gradio" in readme and "sdk_version: 6." in readme
    assert "| test |" in readme and "sample data" in readme
    requirements = (bundle_dir / "requirements.txt").read_text().splitlines()
    assert {line.split("==")[0] for line in requirements} == {
        "gradio",
        "ai-edge-litert",
        "numpy",
        "pillow",
        "pydantic",
        "fastapi",
        "uvicorn",
        "prometheus-client",
        "orjson",
    }
    assert "tensorflow" not in (bundle_dir / "requirements.txt").read_text()
    assert not any(p.name == "__pycache__" for p in (bundle_dir / "shared").iterdir())
    assert len(list((bundle_dir / "examples").glob("*.png"))) == 6
    assert "![Confusion matrix of the test split](model/confusion.png)" in readme
    assert (bundle_dir / "model" / "confusion.png").stat().st_size > 10_000


def test_second_repro_does_nothing(tiny_repo: Path) -> None:
    result = run(["dvc", "repro"], tiny_repo)
    assert result.returncode == 0, result.stderr
    assert "Data and pipelines are up to date." in result.stdout
    assert "Running stage" not in result.stdout


def test_malformed_data_fails_ingest_and_keeps_the_last_dataset(tiny_repo: Path) -> None:
    dataset = tiny_repo / "build" / "sign-language" / "ingest" / "dataset.npz"
    before = dataset.read_bytes()
    raw = tiny_repo / "data" / "sample" / "sign-language" / "sign_mnist_test.csv"
    original = raw.read_text()
    lines = original.splitlines()
    cells = lines[3].split(",")
    cells[42] = "oops"
    raw.write_text("\n".join([*lines[:3], ",".join(cells), *lines[4:]]) + "\n")
    try:
        result = run(["dvc", "repro", "ingest@sign-language"], tiny_repo)
        assert result.returncode != 0
        output = result.stdout + result.stderr
        assert "sign_mnist_test.csv: row 3 (line 4), column 'pixel42'" in output
        assert "Traceback" not in output
        assert dataset.read_bytes() == before
    finally:
        raw.write_text(original)


def test_sample_data_regenerates_exactly_what_data_dvc_records(tmp_path: Path) -> None:
    """A fresh clone has no DVC remote: `spacesuite data sample` must rebuild the recorded bytes."""
    from conftest import copy_repo, git_commit_all

    folder = copy_repo(tmp_path)
    git_commit_all(folder, "fresh clone")
    assert not (folder / "data").exists()
    assert run(["spacesuite", "data", "sample"], folder).returncode == 0
    added = run(["dvc", "add", "data"], folder)
    assert added.returncode == 0, added.stderr
    diff = run(["git", "diff", "--", "data.dvc"], folder)
    assert diff.stdout == "", f"data/ differs from what data.dvc records:\n{diff.stdout}"


def refuse_an_unblessed_emotion_model(repo: Path) -> None:
    """In the tiny repo's copy, make emotion's threshold unreachable and reproduce its bundle: evaluate does not bless
    it and the bundle stage keeps the last bundle (the checks are here: the job runs in the background)."""
    bundle = repo / "dist" / "spaces" / "emotion"
    before = (bundle / "model" / "model.tflite").read_bytes()
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["emotion"]["bless"]["min_f1_macro"] = 0.999
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    result = run(["dvc", "repro", "bundle@emotion"], repo)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "emotion is not blessed (test f1_macro" in output and "Traceback" not in output
    blessing = json.loads((repo / "metrics" / "emotion" / "blessing.json").read_text())
    assert blessing["blessed"] is False
    assert (bundle / "model" / "model.tflite").read_bytes() == before


@pytest.mark.on_tiny_repo_copy.with_args(refuse_an_unblessed_emotion_model)
def test_an_unblessed_model_is_not_bundled_and_the_last_bundle_stays(tiny_repo_copy_job: None) -> None:
    assert tiny_repo_copy_job is None  # the job's own checks passed


@pytest.mark.parametrize("name", [demo.name for demo in demos()])
def test_every_tiny_model_learned_more_than_chance(tiny_repo: Path, name: str) -> None:
    """Each demo's tiny model reaches the floor its module states, well above chance on the sample: a stage that
    misaligned rows and labels, or a model that learned nothing, fails here."""
    test = json.loads((tiny_repo / "metrics" / name / "evaluate.json").read_text())["test"]
    floor = demo(name).floor
    assert floor, f"training/demos/{demo(name).section}.py states no floor"
    for metric, minimum in floor.items():
        assert test[metric] >= minimum, f"{name}: test {metric} {test[metric]:.3f} < its floor {minimum}"
