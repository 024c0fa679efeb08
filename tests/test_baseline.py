"""Evaluation against a baseline: the candidate's slices against the last blessed model's committed ones."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from training.baseline import buckets, classification_slices, compare, find_baseline, shown_worse, wilson_upper
from training.evaluate import write_blessing
from training.params import BlessParams

LABELS = ["sadness", "joy", "anger"]


def git(folder: Path, *args: str) -> None:
    """Run git in `folder` as a test user."""
    subprocess.run(
        ["git", "-c", "user.name=test", "-c", "user.email=test@example.invalid", *args],
        cwd=folder, check=True, capture_output=True,
    )  # fmt: skip


def predictions(wrong_anger: int) -> tuple[np.ndarray, np.ndarray]:
    """30 rows per class, all right but `wrong_anger` anger rows answered as sadness."""
    y_true = np.repeat([0, 1, 2], 30)
    y_pred = y_true.copy()
    y_pred[60 : 60 + wrong_anger] = 0
    return y_true, y_pred


def test_buckets_name_each_value() -> None:
    assert buckets([1, 5, 6, 10, 11, 40], (5, 10, 20), "words") == [
        "words ≤5", "words ≤5", "words 5–10", "words 5–10", "words 10–20", "words >20",
    ]  # fmt: skip


def test_worse_on_one_class_names_the_class() -> None:
    baseline = classification_slices(*predictions(0), LABELS)
    candidate = classification_slices(*predictions(6), LABELS)
    failures = compare(candidate, baseline, tolerance=0.02, min_rows=20)
    assert failures and all("anger" in line or "sadness" in line or "all" in line for line in failures)
    assert any(line.startswith("slice class anger: test recall 0.8000 < baseline 1.0000") for line in failures)
    assert compare(candidate, baseline, tolerance=0.3, min_rows=20) == []
    assert not [line for line in compare(candidate, baseline, tolerance=0.02, min_rows=31) if "class" in line]


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A git repo whose history holds a blessed emotion model (perfect) then an unblessed one (worse)."""
    monkeypatch.chdir(tmp_path)
    git(tmp_path, "init", "-q", "-b", "main")
    metrics = tmp_path / "metrics" / "emotion"
    metrics.mkdir(parents=True)
    provenance = tmp_path / "build" / "emotion" / "ingest" / "provenance.json"
    provenance.parent.mkdir(parents=True)
    provenance.write_text(json.dumps({"source": "sample", "description": "test", "rows": {"train": 90}}))
    for wrong, blessed in ((0, True), (9, False)):
        slices = classification_slices(*predictions(wrong), LABELS)
        (metrics / "slices.json").write_text(json.dumps({"data_source": "sample", "test": slices}))
        (metrics / "blessing.json").write_text(json.dumps({"blessed": blessed, "failures": []}))
        git(tmp_path, "add", "-A")
        git(tmp_path, "commit", "-q", "-m", f"run with {wrong} wrong")
    return tmp_path


def test_candidate_worse_than_the_last_blessed_model_on_one_class_is_not_blessed(repo: Path) -> None:
    found = find_baseline(Path("metrics/emotion"), "HEAD")
    assert found is not None and found.slices["class anger"]["recall"] == 1.0  # the blessed run, not HEAD's
    y_true, y_pred = predictions(6)
    test = {"accuracy": float(np.mean(y_true == y_pred)), "f1_macro": 0.93}
    verdict = write_blessing(
        "emotion", test, BlessParams(min_slice_rows=20), classification_slices(y_true, y_pred, LABELS)
    )
    assert not verdict["blessed"]
    assert "class anger" in verdict["baseline"]["failed_slices"]
    assert any("class anger" in line for line in verdict["failures"])
    written = json.loads((repo / "metrics" / "emotion" / "blessing.json").read_text())
    assert written == verdict and written["baseline"]["commit"] == found.commit
    assert json.loads((repo / "metrics" / "emotion" / "slices.json").read_text())["test"]["class anger"]["rows"] == 30


def test_thresholds_only_without_a_comparable_baseline(repo: Path) -> None:
    y_true, y_pred = predictions(6)
    slices = classification_slices(y_true, y_pred, LABELS)
    test = {"accuracy": 0.93, "f1_macro": 0.93}
    assert write_blessing("emotion", test, BlessParams(baseline=None), slices)["blessed"]
    provenance = repo / "build" / "emotion" / "ingest" / "provenance.json"
    provenance.write_text(json.dumps({"source": "public", "description": "test", "rows": {"train": 90}}))
    verdict = write_blessing("emotion", test, BlessParams(), slices)
    assert verdict["blessed"] and "sample data" in verdict["baseline"]["why"]
    assert find_baseline(Path("metrics/gender"), "HEAD") is None


def test_a_drop_within_the_noise_of_a_small_split_is_not_a_regression() -> None:
    """Training is not bit-for-bit repeatable: on 18 rows one miss against a perfect baseline can be chance, two can't;
    on 2,000 rows the interval is about ±0.012 beyond the tolerance."""
    perfect = {"all": {"accuracy": 1.0, "f1_macro": 1.0, "rows": 18}}
    one_miss = {"all": {"accuracy": 17 / 18, "f1_macro": 0.95, "rows": 18}}
    two_misses = {"all": {"accuracy": 16 / 18, "f1_macro": 0.89, "rows": 18}}
    assert compare(one_miss, perfect, tolerance=0.02, min_rows=50) == []
    failures = compare(two_misses, perfect, tolerance=0.02, min_rows=50)
    expected = "slice all: test accuracy 0.8889 < baseline 1.0000 - 0.02 (at most 0.9690 on 18 rows, 95 % sure)"
    assert failures[0] == expected
    assert wilson_upper(17 / 18, 18) == pytest.approx(0.990, abs=1e-3)
    large = {"all": {"accuracy": 0.93, "rows": 2000}}
    assert compare({"all": {"accuracy": 0.905, "rows": 2000}}, large, tolerance=0.02, min_rows=50) == []
    assert compare({"all": {"accuracy": 0.89, "rows": 2000}}, large, tolerance=0.02, min_rows=50) != []
    assert not shown_worse(0.905, 0.93, 2000, 0.02) and shown_worse(0.89, 0.93, 2000, 0.02)


def test_regression_scores_keep_their_tolerance_alone() -> None:
    baseline = {"all": {"rmse": 0.50, "r2": 0.80, "rows": 20}}
    candidate = {"all": {"rmse": 0.52, "r2": 0.70, "rows": 20}}
    assert compare(candidate, baseline, tolerance=0.02, min_rows=50) == [
        "slice all: test rmse 0.5200 > baseline 0.5000 +2%",
        "slice all: test r2 0.7000 < baseline 0.8000 - 0.02",
    ]
