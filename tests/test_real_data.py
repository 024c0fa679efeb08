"""The models on their real data, where an offline copy exists (../shared/datasets, installed packages): each demo
with a `real_check` is fetched from its public source with its publisher's own client pointed at a filled cache
(bench/public_cache.py), then trained and scored by the real pipeline (bench/real_data.py), quick settings where
its module says so, and must reach its goal."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from training.demos import demos

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "datasets"
LOWER_IS_BETTER = {"rmse", "mae"}
CHECKED = [demo for demo in demos() if demo.real_check is not None]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not SHARED.is_dir(), reason=f"no offline copies of the real datasets in {SHARED}"),
]


def _flatten(params: dict, prefix: str = "") -> list[str]:
    """`key.path=value` overrides for bench/real_data.py's --set."""
    items = []
    for key, value in params.items():
        if isinstance(value, dict):
            items += _flatten(value, f"{prefix}{key}.")
        else:
            items.append(f"{prefix}{key}={value}")
    return items


@pytest.fixture(scope="module")
def reports() -> dict[str, dict]:
    """Every checked demo fetched, trained and scored in one copy and one `dvc repro` (one copy, sample and cache
    fill for all: a few minutes less than one each)."""
    sys.path.insert(0, str(REPO / "bench"))
    from real_data import run_many

    overrides = [item for demo in CHECKED for item in _flatten(dict(demo.real_check.params), f"{demo.section}.")]
    return run_many([demo.name for demo in CHECKED], None, overrides, keep=False, evaluate_only=True)  # None: public


@pytest.mark.parametrize("demo", CHECKED, ids=[demo.name for demo in CHECKED])
def test_the_model_reaches_its_goal_on_the_real_data(demo, reports: dict[str, dict]) -> None:
    assert demo.real_check is not None
    report = reports[demo.name]
    test = report["evaluate"]["test"]
    for metric, goal in demo.real_check.goal.items():
        reached = test[metric] <= goal if metric in LOWER_IS_BETTER else test[metric] >= goal
        assert reached, f"{demo.name}: test {metric} {test[metric]:.4f} misses its goal {goal} ({report['sizes']})"
