"""The monitoring config, run: Debian's real Prometheus, with monitoring/prometheus.yml's jobs and
monitoring/alerts.yml's rules, scrapes every bundled Space of the tiny pipeline (served as `spacesuite up` serves
them), Debian's real Pushgateway and a stand-in of TF Serving's metrics page, while the test sends traffic. Then
every query of the Grafana dashboard and every alert's signal must return data, and each alert's full expression
must return exactly what this traffic should raise (or nothing).

TF Serving runs only in Docker, so its series come from tests/tfserving_standin.py, a stand-in labelled as such:
it proves the TF Serving queries match the names and labels TF Serving's source defines, not that TF Serving
exports them. Scrapes and rule evaluations every second; every wait is bounded.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from conftest import BIN, free_port
from prometheus_servers import prometheus, pushgateway, query
from tfserving_standin import tf_serving_metrics

from shared.artifact import ModelSpec
from training.pushgateway import JOB, DriftRun, push_status

pytestmark = [pytest.mark.slow, pytest.mark.integration]

REPO = Path(__file__).resolve().parents[1]
MONITORING = REPO / "monitoring"
DASHBOARD = MONITORING / "grafana" / "dashboards" / "spacesuite.json"
ASKED = ("emotion", "gender")  # the Spaces' models the traffic asks; every other served model gets none
WAIT_S = 45
# Grafana's variables, as the dashboard would fill them: every model, and windows holding several 1 s scrapes.
GRAFANA = {"$model": ".*", "$__rate_interval": "15s", "$__range": "5m"}
COMPARISON = re.compile(r"^(?P<signal>.+?)\s*(?:==|!=|>=|<=|>|<)\s*(?P<threshold>[-+0-9.eE]+)$")
ABSENT = re.compile(r"^absent\((?P<signal>.+)\)$")


@dataclass
class Watched:
    """What the test runs: Prometheus, what it scrapes, the models served, and what went wrong sending traffic."""

    prometheus: str
    pushgateway: str
    stopped_target: str
    served: set[str]
    problems: list[str]


def _rules() -> list[dict[str, Any]]:
    return [
        rule for group in yaml.safe_load((MONITORING / "alerts.yml").read_text())["groups"] for rule in group["rules"]
    ]


def _alerts() -> dict[str, str]:
    return {rule["alert"]: rule["expr"].strip() for rule in _rules() if "alert" in rule}


def _dashboard_queries() -> list[tuple[str, str]]:
    dashboard = json.loads(DASHBOARD.read_text())
    queries = []
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            expr = target["expr"]
            for variable, value in GRAFANA.items():
                expr = expr.replace(variable, value)
            queries.append((f"{panel['title']} [{target['refId']}]", expr))
    return queries


def _config(folder: Path, targets: dict[str, list[str]]) -> Path:
    """monitoring/prometheus.yml with its jobs pointed at `targets` (by job name), every second, its rules by path."""
    config = yaml.safe_load((MONITORING / "prometheus.yml").read_text())
    config["global"] |= {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"}
    config["rule_files"] = [str(MONITORING / name) for name in config["rule_files"]]
    for job in config["scrape_configs"]:
        groups = job["static_configs"]
        labels = {key: value for group in groups for key, value in group.get("labels", {}).items()}
        job["static_configs"] = [{"targets": targets.pop(job["job_name"]), "labels": labels}]
    assert not targets, f"no job {sorted(targets)} in prometheus.yml"
    path = folder / "prometheus.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def _send_traffic(suite: str, tf_serving: Any, gender: list[float], stop: threading.Event, problems: list[str]) -> None:
    """Until `stop`: REST requests the Spaces answer (and one refused now and then), and the TF Serving requests the
    stand-in pretends to answer (OK, and a client's INVALID_ARGUMENT). A wrong answer goes to `problems`."""
    asked = [("emotion", {"instances": ["i feel happy today"]}, 200), ("gender", {"instances": [gender]}, 200)]
    refused = ("emotion", {"instances": [[1, 2]]}, 400)  # the user's mistake: input_error, not an error of ours
    with httpx.Client(base_url=suite, timeout=30) as client:
        step = 0
        while not stop.is_set():
            for model, body, status in [*asked, *([refused] if step % 5 == 0 else [])]:
                try:
                    response = client.post(f"/v1/models/{model}:predict", json=body)
                except httpx.HTTPError as error:
                    problems.append(f"{model}: {error!r}")
                    continue
                if response.status_code != status:
                    problems.append(f"{model}: {response.status_code} {response.text[:200]}")
            tf_serving.record("emotion", "OK", 800 + 40 * (step % 10))
            tf_serving.record("digits", "OK", 300 + 20 * (step % 10), entrypoint="GRPC")
            if step % 5 == 0:
                tf_serving.record("emotion", "INVALID_ARGUMENT", 0)
            step += 1
            stop.wait(0.2)


def has_data(result: list[dict[str, Any]]) -> bool:
    """At least one sample, and a finite number among them (not only NaN)."""
    return any(math.isfinite(float(sample["value"][1])) for sample in result)


def is_empty(result: list[dict[str, Any]]) -> bool:
    """No sample."""
    return not result


def _eventually(watched: Watched, expr: str, done: Callable[[list[dict[str, Any]]], bool] = has_data) -> list:
    """The query's result once `done` says so; fails after WAIT_S seconds with the last result."""
    deadline = time.monotonic() + WAIT_S
    while True:
        result = query(watched.prometheus, expr)
        if done(result):
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"{expr!r}: not {done.__name__} after {WAIT_S} s: {result}; traffic: {watched.problems[:3]}")
        time.sleep(0.5)


@pytest.fixture(scope="module")
def watched(spaces_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Watched]:
    folder = tmp_path_factory.mktemp("prometheus")
    gender_spec = ModelSpec.load(spaces_dir / "gender" / "model")
    gender = [feature.default for feature in gender_spec.input.features]  # type: ignore[union-attr]
    stopped = f"127.0.0.1:{free_port()}"  # a Space that is down: nothing listens there
    tf_serving_port = free_port()
    with (
        served_suite(spaces_dir, folder) as suite,
        tf_serving_metrics(tf_serving_port) as tf_serving,
        pushgateway(folder) as gateway,
    ):
        served = {labels["model"] for labels in _suite_models(suite)}
        targets = {
            "spacesuite": [suite.removeprefix("http://"), stopped],
            "tfserving": [f"127.0.0.1:{tf_serving_port}"],
            "pushgateway": [gateway.removeprefix("http://")],
        }
        config = _config(folder, targets)
        stop, problems = threading.Event(), []
        sender = threading.Thread(target=_send_traffic, args=(suite, tf_serving, gender, stop, problems), daemon=True)
        sender.start()
        try:
            with prometheus(config, folder) as url:
                yield Watched(url, gateway, stopped, served, problems)
        finally:
            stop.set()
            sender.join(timeout=30)


@contextlib.contextmanager
def served_suite(spaces_dir: Path, folder: Path) -> Iterator[str]:
    """`spacesuite serve` of the bundled Spaces in a process of its own (its metrics are only its own traffic's, not
    those of other tests' in-process models), on a free 127.0.0.1 port; yield its URL, stop it after."""
    port = free_port()
    command = ["spacesuite", "serve", "--host", "127.0.0.1", "--port", str(port), "--bundles", str(spaces_dir)]
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
           "SPACESUITE_TRAFFIC_DIR": str(folder / "traffic")}  # fmt: skip
    log = (folder / "suite.log").open("w")
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, (folder / "suite.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "spacesuite serve did not answer in 120 s"
            try:
                if httpx.get(f"{url}/metrics/", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def _suite_models(suite: str) -> list[dict[str, str]]:
    """The labels of the suite's spacesuite_model_info samples, read from its own /metrics/."""
    from prometheus_client.parser import text_string_to_metric_families

    text = httpx.get(f"{suite}/metrics/", timeout=10).text
    families = text_string_to_metric_families(text)
    return [sample.labels for family in families for sample in family.samples if sample.name == "spacesuite_model_info"]


def test_the_traffic_was_answered_and_leaves_models_unasked(watched: Watched) -> None:
    _eventually(watched, "spacesuite_requests_total")
    assert not watched.problems, watched.problems[:5]
    assert set(ASKED) < watched.served, watched.served


def test_every_target_is_scraped_but_the_stopped_space(watched: Watched) -> None:
    down = _eventually(watched, "up == 0")
    assert [sample["metric"]["instance"] for sample in down] == [watched.stopped_target]

    def every_job_up(result: list[dict[str, Any]]) -> bool:
        return {sample["metric"]["job"] for sample in result} == {"spacesuite", "tfserving", "pushgateway"}

    _eventually(watched, "up == 1", every_job_up)


@pytest.mark.parametrize(("panel", "expr"), _dashboard_queries(), ids=[title for title, _ in _dashboard_queries()])
def test_every_dashboard_query_returns_data(watched: Watched, panel: str, expr: str) -> None:
    # the "TF Serving: ..." panels read the stand-in's series (see the module's docstring)
    _eventually(watched, expr)


def test_the_model_variable_lists_every_served_model(watched: Watched) -> None:
    _eventually(watched, "spacesuite_model_info")
    response = httpx.get(
        f"{watched.prometheus}/api/v1/label/model/values", params={"match[]": "spacesuite_model_info"}, timeout=10
    )
    assert set(response.json()["data"]) == watched.served


# the drift job's signal needs a push first: test_drift_job_alerts_follow_what_the_job_pushes asks it
@pytest.mark.parametrize(
    "record", [rule["record"] for rule in _rules() if "record" in rule and "drift" not in rule["record"]]
)
def test_every_recorded_signal_has_data(watched: Watched, record: str) -> None:
    _eventually(watched, record)


def test_every_rule_evaluates_without_error(watched: Watched) -> None:
    _eventually(watched, "spacesuite:requests:rate1h")  # the rules have run at least once
    groups = httpx.get(f"{watched.prometheus}/api/v1/rules", timeout=10).json()["data"]["groups"]
    rules = [rule for group in groups for rule in group["rules"]]
    assert len(rules) == len(_rules())
    for rule in rules:
        assert rule["health"] == "ok", f"{rule['name']}: {rule.get('lastError')}"


def _firing(expected: set[str]) -> Callable[[list[dict[str, Any]]], bool]:
    def firing_exactly(result: list[dict[str, Any]]) -> bool:
        return {sample["metric"].get("model") or sample["metric"].get("instance") for sample in result} == expected

    return firing_exactly


@pytest.mark.parametrize("alert", sorted(name for name in _alerts() if not name.startswith("SpacesuiteDrift")))
def test_every_alert_signal_has_data_and_fires_only_where_the_traffic_says(watched: Watched, alert: str) -> None:
    expr = _alerts()[alert]
    match = COMPARISON.match(expr)
    assert match, f"{alert}: {expr!r} is not `<signal> <comparison> <number>`"
    _eventually(watched, match["signal"])
    expected = {
        "SpacesuiteTargetDown": {watched.stopped_target},  # the stopped Space
        "SpacesuiteNoTraffic": watched.served - set(ASKED),  # the models nobody asked
    }.get(alert, set())  # healthy traffic raises nothing else: no errors of ours, fast answers, requests flowing
    _eventually(watched, expr, _firing(expected))


def test_drift_job_alerts_follow_what_the_job_pushes(watched: Watched) -> None:
    alerts = _alerts()
    assert {name for name in alerts if name.startswith("SpacesuiteDrift")} == {
        "SpacesuiteDriftJobFailed", "SpacesuiteDriftJobStale", "SpacesuiteDriftJobNeverReported",
    }  # fmt: skip
    never = ABSENT.match(alerts["SpacesuiteDriftJobNeverReported"])
    failed, stale = (
        COMPARISON.match(alerts["SpacesuiteDriftJobFailed"]),
        COMPARISON.match(alerts["SpacesuiteDriftJobStale"]),
    )
    assert never and failed and stale
    _eventually(watched, "up{job='pushgateway'} == 1")
    _eventually(watched, never[0])  # nothing pushed yet: the job has never reported

    push_status(watched.pushgateway, DriftRun(), finished=time.time(), duration_s=1.0)  # a run that succeeded
    _eventually(watched, never[0], is_empty)
    _eventually(watched, never["signal"])
    for match in (failed, stale):
        _eventually(watched, match["signal"])  # the signal has data, and a fresh success raises no alert
        _eventually(watched, match[0], is_empty)

    push_status(watched.pushgateway, DriftRun(failed=True, drifted_models=1), finished=time.time(), duration_s=1.0)
    fired = _eventually(watched, failed[0])
    assert [sample["metric"]["job"] for sample in fired] == [JOB]
    assert query(watched.prometheus, stale[0]) == []  # the last success is kept: not stale
    age = _eventually(watched, stale["signal"])
    assert float(age[0]["value"][1]) < 600
