"""The drift job's outcome for Prometheus (training/pushgateway.py): what one run pushes, that a failed run keeps the
last success time, and that a Pushgateway that is away never changes the job's own outcome."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import free_port
from prometheus_client import generate_latest
from prometheus_servers import pushed, pushgateway

from training.pushgateway import JOB, METRIC_NAMES, DriftRun, push_status, pushgateway_url, reported, status_registry


def test_a_run_pushes_its_end_and_outcome_and_only_a_success_its_time() -> None:
    success = generate_latest(status_registry(DriftRun(), finished=1000.0, duration_s=12.5)).decode()
    assert "spacesuite_drift_last_success_timestamp_seconds 1000.0" in success
    assert "spacesuite_drift_last_run_failed 0.0" in success
    failure = generate_latest(status_registry(DriftRun(True, 2), finished=2000.0, duration_s=3.0)).decode()
    assert "spacesuite_drift_last_run_failed 1.0" in failure
    assert "spacesuite_drift_traffic_drifted_models 2.0" in failure
    assert "spacesuite_drift_last_success_timestamp_seconds" not in failure
    for name in METRIC_NAMES[:4]:
        assert f"{name} " in failure


def test_the_address_comes_from_the_environment() -> None:
    assert pushgateway_url({}) is None
    assert pushgateway_url({"SPACESUITE_PUSHGATEWAY": "  "}) is None
    assert pushgateway_url({"SPACESUITE_PUSHGATEWAY": " http://127.0.0.1:9091 "}) == "http://127.0.0.1:9091"


def test_a_pushgateway_that_is_away_is_logged_never_raised(caplog: pytest.LogCaptureFixture) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    assert push_status(url, DriftRun(), finished=1.0, duration_s=1.0) is False
    assert f"not pushed to {url}" in caplog.text


@pytest.mark.integration
def test_a_failed_run_keeps_the_last_success_and_an_exception_is_a_failure(tmp_path: Path) -> None:
    with pushgateway(tmp_path) as url:
        assert push_status(url, DriftRun(), finished=1000.0, duration_s=5.0)
        assert pushed(url, JOB)["spacesuite_drift_last_run_failed"] == 0
        environ = {"SPACESUITE_PUSHGATEWAY": url}
        with pytest.raises(ZeroDivisionError), reported(environ) as run:
            run.drifted_models = 1
            _ = 1 / 0
        after = pushed(url, JOB)
    assert after["spacesuite_drift_last_run_failed"] == 1
    assert after["spacesuite_drift_traffic_drifted_models"] == 1
    assert after["spacesuite_drift_last_success_timestamp_seconds"] == 1000.0  # a failure does not erase it
    assert after["spacesuite_drift_last_run_timestamp_seconds"] > 1000.0
