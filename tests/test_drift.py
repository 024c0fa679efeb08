"""The drift job: synthetic scenarios in the real pipeline run, real logged traffic, and the Discord alert."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import DRIFT_TINY, free_port, run, serving
from prometheus_servers import pushed, pushgateway

from shared.artifact import ModelSpec
from shared.descriptors import CONFIDENCE_LOG_ODDS, PREDICTION, log_odds
from training.alerts import DISCORD_LIMIT, discord_payload, send_alert
from training.demos import names
from training.drift import column_results
from training.params import DriftParams
from training.pushgateway import JOB
from training.synthetic import (
    brighter,
    class_prior,
    flipped,
    input_source,
    longer_texts,
    mean_shift,
    scenarios,
    synthetic_traffic,
)


@contextmanager
def webhook() -> Iterator[tuple[str, list[dict]]]:
    """A local stand-in for Discord's webhook endpoint on 127.0.0.1: yields its URL and the JSON bodies it got."""
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(json.loads(body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/api/webhooks/1/secret-token", received
    finally:
        server.shutdown()


def test_alert_reaches_the_webhook_and_the_url_never_reaches_the_log(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="spacesuite.alerts")
    with webhook() as (url, received):
        assert send_alert("gender drifted: forehead_width_cm", {"DISCORD_WEBHOOK_URL": url})
    assert received == [{"content": "gender drifted: forehead_width_cm", "allowed_mentions": {"parse": []}}]
    assert not send_alert("no webhook configured", {})
    assert "DISCORD_WEBHOOK_URL is not set" in caplog.text
    closed = f"http://127.0.0.1:{free_port()}/api/webhooks/1/secret-token"
    assert not send_alert("nobody listens", {"DISCORD_WEBHOOK_URL": closed})
    assert "not delivered" in caplog.text and "secret-token" not in caplog.text
    assert len(json.loads(discord_payload("x" * 5000))["content"]) == DISCORD_LIMIT


def test_shifts_change_what_they_say() -> None:
    rng = np.random.default_rng(0)
    rows = np.column_stack([np.r_[np.zeros(50), np.ones(50)], np.arange(100.0)])
    assert flipped(0, 0.5)(rows, rng)[:, 0].mean() == pytest.approx(0.75)  # half the zeros became ones
    moved = mean_shift(1, 10.0, 0.0, 100.0)(rows, rng)[:, 1]
    assert moved.max() == 100.0 and moved[:90] == pytest.approx(rows[:90, 1] + 10)  # kept in the accepted range
    texts = np.array(["a short text", "another one", "x y"])
    longer = longer_texts(2.0)(texts, rng)
    assert all(new.startswith(old) and len(new) >= 2 * len(old) for old, new in zip(texts, longer, strict=True))
    images = np.stack([np.full((4, 4), 100, np.uint8), np.full((4, 4), 250, np.uint8)])
    assert brighter(0.1)(images, rng)[:, 0, 0].tolist() == [126, 255]  # +25.5 of 255, clipped
    frame = pd.DataFrame({"prediction": ["a"] * 90 + ["b"] * 10})
    assert (class_prior(0.8)(frame, rng)["prediction"] == "b").mean() == pytest.approx(0.8)


def test_column_results_read_failed_tests_from_an_evidently_snapshot() -> None:
    snapshot = {
        "metrics": [
            {"id": "m1", "config": {"type": "evidently:metric_v2:ValueDrift", "column": "a"}, "value": 0.5},
            {"id": "m2", "config": {"type": "evidently:metric_v2:ValueDrift", "column": "b"}, "value": 0.01},
            {"id": "m0", "config": {"type": "evidently:metric_v2:DriftedColumnsCount"}, "value": {"count": 1}},
        ],
        "tests": [
            {"metric_config": {"metric_id": "m1"}, "status": "FAIL"},
            {"metric_config": {"metric_id": "m2"}, "status": "SUCCESS"},
            {"metric_config": {"metric_id": "m0"}, "status": "FAIL"},
        ],
    }
    assert column_results(snapshot) == ({"a": 0.5, "b": 0.01}, ["a"])


@pytest.mark.slow
@pytest.mark.parametrize("model", ["gender", "emotion", "digits"])  # SDV feature rows, held-out texts and images
def test_synthetic_traffic_is_answered_by_the_spaces_model(
    tiny_repo: Path, model: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shared.service import load_model
    from training.drift import describer, reference_frame

    monkeypatch.chdir(tiny_repo)  # the job reads params.yaml and build/ from the working directory
    export = tiny_repo / "build" / model / "export"
    spec = ModelSpec.load(export)
    describe = describer(spec, export)
    reference = reference_frame(model, spec, describe, 200, seed=0)
    params = DriftParams()
    planned = scenarios(spec, reference.frame, reference.answered.inputs, params.shifts)
    source = input_source(spec, params, reference.answered.inputs, reference.targets, reference.pool)
    space = load_model(export)  # a second instance, answering one input at a time as the page does
    as_instance = {"image": np.asarray, "text": str, "tabular": lambda raw: [float(value) for value in raw]}
    shifted = 0
    for traffic in synthetic_traffic(planned, source, describe, 60, np.random.default_rng(1)):
        if traffic.scenario.answers is not None:  # the class prior resamples answers: rows no longer line up
            continue
        sent = traffic.sent[traffic.rows]
        assert len(sent) == len(traffic.frame) >= 50
        answers = [space.predict_one(as_instance[spec.input.kind](raw)) for raw in sent]
        assert traffic.frame[PREDICTION].tolist() == [str(answer.answer) for answer in answers]
        expected = log_odds(np.array([answer.confidence for answer in answers]))
        assert traffic.frame[CONFIDENCE_LOG_ODDS].to_numpy() == pytest.approx(expected, abs=1e-3)
        shifted += traffic.scenario.inputs is not None
    assert shifted == 1 + (spec.input.kind == "tabular")  # gender: a mean shift and a flip


@pytest.mark.slow
def test_the_reference_is_held_out_rows_and_traffic_is_drawn_from_the_others(
    tiny_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from training.drift import describer, held_out_rows, reference_frame

    monkeypatch.chdir(tiny_repo)
    export = tiny_repo / "build" / "digits" / "export"  # 479 held-out rows in the tiny pipeline
    spec = ModelSpec.load(export)
    with np.load(tiny_repo / "build" / "digits" / "ingest" / "dataset.npz") as dataset:
        inputs, targets, fold = dataset["x"], dataset["y"], dataset["fold"]
    held_out = held_out_rows("digits", targets, fold)
    with np.load(tiny_repo / "build" / "digits" / "prepare" / "splits.npz") as splits:  # what prepare wrote
        assert len(held_out) == len(splits["x_val"]) + len(splits["x_test"])
        held_out_images = {image.tobytes() for image in inputs[held_out]}
        assert held_out_images == {image.tobytes() for part in ("x_val", "x_test") for image in splits[part]}
    reference = reference_frame("digits", spec, describer(spec, export), 200, seed=0)
    assert reference.held_out and len(reference.answered.inputs) + reference.answered.refused == 200
    assert len(reference.pool) == len(held_out) - 200
    pool = {image.tobytes() for image in reference.pool}
    assert pool <= held_out_images and not pool & {image.tobytes() for image in reference.answered.inputs}


@pytest.mark.slow
def test_the_pipeline_drift_stage_flags_every_injected_shift(tiny_repo: Path) -> None:
    seeds = DRIFT_TINY["seeds"]
    scenarios, false_alarms = set(), []
    for model in names():  # one drift stage per demo: drift@<model>
        metrics = json.loads((tiny_repo / "metrics" / "drift" / f"{model}.json").read_text())
        assert metrics[model]["detection_rate"] == 1.0, (model, metrics[model])
        assert metrics[model]["no_shift_runs"] == seeds
        false_alarms.append(metrics[model]["false_alarm_rate"])
        out = tiny_repo / "build" / "drift" / model
        runs = pd.read_csv(out / "summary.csv")
        assert set(runs["model"]) == {model}
        for scenario in runs[runs["seed"] == 0]["scenario"]:
            report = out / model / f"{scenario}.json"
            assert report.is_file(), report
            assert report.with_suffix(".html").stat().st_size > 100_000  # Evidently's self-contained page
        scenarios |= set(runs["scenario"])
        assert f"| {model} | no_shift |" in (out / "summary.md").read_text()
    assert len(scenarios) >= 6
    assert np.mean(false_alarms) <= 0.25, false_alarms  # tiny references (64 birds) are noisy


def _gender_rows(repo: Path, spec: ModelSpec) -> np.ndarray:
    """The ingested rows as a form would send them (the CSV's decimals, not float32's), inside the accepted ranges."""
    with np.load(repo / "build" / "gender" / "ingest" / "dataset.npz") as dataset:
        rows = dataset["x"].astype(float).round(4)
    features = spec.input.features  # type: ignore[union-attr]
    low, high = np.array([f.minimum for f in features]), np.array([f.maximum for f in features])
    return rows[np.all((rows >= low) & (rows <= high), axis=1)]


def _send(url: str, rows: np.ndarray) -> None:
    import httpx

    for start in range(0, len(rows), 50):
        instances = rows[start : start + 50].tolist()
        response = httpx.post(f"{url}/v1/models/gender:predict", json={"instances": instances}, timeout=30)
        assert response.status_code == 200, response.text


@pytest.mark.slow
@pytest.mark.integration
def test_drift_in_real_traffic_alerts_and_fails_the_job(tiny_repo: Path, tmp_path: Path) -> None:
    from fastapi import FastAPI

    from shared import traffic
    from shared.adapters import adapters
    from shared.service import load_services
    from shared.tf_serving import tf_serving_router

    spec = ModelSpec.load(tiny_repo / "build" / "gender" / "export")
    rows = _gender_rows(tiny_repo, spec)
    width = [feature.name for feature in spec.input.features].index("forehead_width_cm")  # type: ignore[union-attr]
    maximum = spec.input.features[width].maximum  # type: ignore[union-attr]
    shifted = rows.copy()
    shifted[:, width] = np.minimum(shifted[:, width] + shifted[:, width].std(), maximum)

    app = FastAPI()
    app.include_router(tf_serving_router(adapters(load_services(tiny_repo / "dist" / "spaces" / "gender" / "model"))))
    logs = {}
    try:
        with serving(app) as url:
            for name, traffic_rows in (("like_reference", rows), ("shifted", shifted)):
                logs[name] = tmp_path / name
                traffic.configure("gender", environ={"SPACESUITE_TRAFFIC_DIR": str(logs[name])})
                _send(url, traffic_rows)
    finally:
        traffic.configure()

    quiet_run = ["spacesuite", "drift", "gender", "--traffic", str(logs["like_reference"]), "--out", "q"]
    with pushgateway(tmp_path) as gateway:  # each run pushes its outcome there, for the alert rules
        quiet = run([*quiet_run, "--metrics", "q/m.json"], tiny_repo, env_extra={"SPACESUITE_PUSHGATEWAY": gateway})
        assert quiet.returncode == 0, quiet.stderr
        assert "| gender | traffic | - | no drift |" in (tiny_repo / "q" / "summary.md").read_text()
        after_quiet = pushed(gateway, JOB)
        assert after_quiet["spacesuite_drift_last_run_failed"] == 0
        assert after_quiet["spacesuite_drift_traffic_drifted_models"] == 0

        with webhook() as (hook, received):
            loud = run(
                [
                    "spacesuite",
                    "drift",
                    "gender",
                    "--traffic",
                    str(logs["shifted"]),
                    "--out",
                    "l",
                    "--metrics",
                    "l/m.json",
                ],
                tiny_repo,
                env_extra={"DISCORD_WEBHOOK_URL": hook, "SPACESUITE_PUSHGATEWAY": gateway},
            )
        after_loud = pushed(gateway, JOB)
    assert (
        after_loud["spacesuite_drift_last_run_failed"] == 1
        and after_loud["spacesuite_drift_traffic_drifted_models"] == 1
    )
    success = "spacesuite_drift_last_success_timestamp_seconds"
    assert after_loud[success] == after_quiet[success]  # the failed run left the last success as it was
    assert loud.returncode == 1, loud.stdout + loud.stderr
    assert "drift in live traffic" in loud.stderr and hook not in loud.stderr + loud.stdout
    assert "error:" not in loud.stderr  # the job's own exit status 1 is not reported as an error
    assert len(received) == 1 and "gender: forehead_width_cm" in received[0]["content"]
    assert (tiny_repo / "l" / "gender" / "traffic.html").is_file()
    figures = json.loads((tiny_repo / "l" / "m.json").read_text())
    assert figures["gender"]["traffic"]["used"] == len(rows) and figures["gender"]["traffic"]["drift"] is True
