"""The models on their real data, where an offline copy exists (../shared/datasets, installed packages): each demo
with a `real_check` is fetched from its public source with its publisher's own client pointed at a filled cache
(bench/public_cache.py), then trained and scored by the real pipeline (bench/real_data.py), quick settings where
its module says so, and must reach its goal. The training runs in the background from the first test, at a low
priority (`real_data_reports` in conftest.py); these tests run last."""

from __future__ import annotations

import pytest
from conftest import REAL_DATASETS, real_checked

LOWER_IS_BETTER = {"rmse", "mae"}
CHECKED = real_checked()

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not REAL_DATASETS.is_dir(), reason=f"no offline copies of the real datasets in {REAL_DATASETS}"),
]


@pytest.mark.parametrize("demo", CHECKED, ids=[demo.name for demo in CHECKED])
def test_the_model_reaches_its_goal_on_the_real_data(demo, real_data_reports: dict[str, dict]) -> None:
    assert demo.real_check is not None
    report = real_data_reports[demo.name]
    test = report["evaluate"]["test"]
    for metric, goal in demo.real_check.goal.items():
        reached = test[metric] <= goal if metric in LOWER_IS_BETTER else test[metric] >= goal
        assert reached, f"{demo.name}: test {metric} {test[metric]:.4f} misses its goal {goal} ({report['sizes']})"
