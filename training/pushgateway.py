"""The drift job's outcome for Prometheus, pushed to a Pushgateway at the end of every run.

A batch job is not running when Prometheus scrapes, so it pushes what it did to a Pushgateway, which Prometheus
scrapes; the time of the last success is what an alert watches (Prometheus' practice for batch jobs:
https://prometheus.io/docs/practices/instrumentation/#batch-jobs). `monitoring/alerts.yml` alerts when the last run
failed, when no run has succeeded for 26 hours, and when none has ever reported.

Set `SPACESUITE_PUSHGATEWAY` (e.g. `http://127.0.0.1:9091`) where the job runs; unset, nothing is pushed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Gauge, pushadd_to_gateway

logger = logging.getLogger("spacesuite.pushgateway")
JOB = "spacesuite_drift"  # the pushed `job` label (prometheus.yml's pushgateway job honors it)
TIMEOUT_S = 10
METRIC_NAMES = (
    "spacesuite_drift_last_run_timestamp_seconds",
    "spacesuite_drift_last_run_failed",
    "spacesuite_drift_last_run_duration_seconds",
    "spacesuite_drift_traffic_drifted_models",
    "spacesuite_drift_last_success_timestamp_seconds",
)


@dataclass
class DriftRun:
    """What one drift run tells Prometheus: whether it failed, and how many models' live traffic drifted."""

    failed: bool = False
    drifted_models: int = 0


def pushgateway_url(environ: Mapping[str, str] = os.environ) -> str | None:
    """The Pushgateway to push to (`SPACESUITE_PUSHGATEWAY`), or None when unset or blank."""
    return environ.get("SPACESUITE_PUSHGATEWAY", "").strip() or None


def status_registry(run: DriftRun, *, finished: float, duration_s: float) -> CollectorRegistry:
    """The gauges of one finished run; the last success time only when it succeeded."""
    registry = CollectorRegistry()

    def gauge(name: str, documentation: str, value: float) -> None:
        Gauge(name, documentation, registry=registry).set(value)

    gauge(METRIC_NAMES[0], "When the last drift job run ended (Unix time).", finished)
    gauge(METRIC_NAMES[1], "1 when the last drift job run exited non-zero (drift in live traffic, or an error).",
          float(run.failed))  # fmt: skip
    gauge(METRIC_NAMES[2], "How long the last drift job run took.", duration_s)
    gauge(METRIC_NAMES[3], "Models whose live traffic drifted in the last run.", run.drifted_models)
    if not run.failed:
        gauge(METRIC_NAMES[4], "When a drift job run last succeeded (Unix time).", finished)
    return registry


def push_status(url: str, run: DriftRun, *, finished: float, duration_s: float) -> bool:
    """Push one run's outcome to the Pushgateway at `url`; True when it was accepted.

    A POST (pushadd) replaces only the metrics it carries, so a failed run leaves the last success time as it was.
    A failed push is logged in one line and never raised: the job's own exit status must not change because the
    monitoring is away.
    """
    registry = status_registry(run, finished=finished, duration_s=duration_s)
    try:
        pushadd_to_gateway(url, job=JOB, registry=registry, timeout=TIMEOUT_S)
    except (OSError, ValueError) as error:  # refused, timed out, an HTTP error status, a malformed URL
        logger.error("the drift job's outcome was not pushed to %s: %s", url, getattr(error, "reason", error))
        return False
    return True


@contextlib.contextmanager
def reported(environ: Mapping[str, str] = os.environ) -> Iterator[DriftRun]:
    """Around one drift run: yields its `DriftRun` to fill in, and pushes the outcome when it ends, whether it
    returned or raised (any exception, `typer.Exit(1)` included, is a failed run). Pushes nothing without
    `SPACESUITE_PUSHGATEWAY`."""
    url = pushgateway_url(environ)
    run = DriftRun()
    started = time.time()
    try:
        yield run
    except BaseException:
        run.failed = True
        raise
    finally:
        if url:
            finished = time.time()
            push_status(url, run, finished=finished, duration_s=finished - started)
