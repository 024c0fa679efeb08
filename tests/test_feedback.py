"""Feedback on answers: the service's checks, the traffic log's join, and end to end through a Space's REST API and
page into the drift job's live accuracy, its alert, its report and its metrics."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import test_traffic
from conftest import run, serving
from test_drift import webhook

from shared import traffic
from shared.artifact import DataProvenance, ModelSpec, TextInput
from shared.errors import InputError
from shared.feedback import RIGHT, WRONG, UnknownRequest, parse_feedback
from shared.metrics import REGISTRY
from shared.prediction import Prediction
from shared.service import Service
from shared.traffic import read_records
from training.live_quality import classification_report, labelled_frame

SPEC = ModelSpec(
    name="unit-feedback",
    version=3,
    task="text-classification",
    labels=["cat", "dog", "fox"],
    input=TextInput(sequence_length=8),
    files={},
    data=DataProvenance(source="sample", description="test"),
)


log_dir = test_traffic.log_dir  # the fixture: this process's traffic log in a fresh folder


class Echo:
    """An in-memory classifier for the service: answers the label it is sent."""

    spec = SPEC
    folder = Path()

    def predict_one(self, instance: str) -> Prediction:
        others = [label for label in SPEC.labels if label != instance]
        return Prediction({instance: 0.8, others[0]: 0.15, others[1]: 0.05}, inputs={"sent": instance})


def _feedback_count(model: str, verdict: str) -> float:
    return REGISTRY.get_sample_value("spacesuite_feedback_total", {"model": model, "verdict": verdict}) or 0.0


def test_feedback_is_checked_logged_with_its_request_and_counted(log_dir: Path) -> None:
    service = Service(Echo())
    answers = service.answer("rest", ["cat", "dog"])
    assert len(answers.request_id) == 16
    before = _feedback_count(SPEC.name, WRONG), _feedback_count(SPEC.name, RIGHT)
    verdict = service.feedback("rest", answers.request_id, correct=False, label="fox", instance=1)
    assert (verdict.predicted, verdict.label, verdict.verdict) == ("dog", "fox", WRONG)
    service.feedback("page", answers.request_id, correct=True)
    assert (_feedback_count(SPEC.name, WRONG), _feedback_count(SPEC.name, RIGHT)) == (before[0] + 1, before[1] + 1)

    for call, refused in (
        (lambda: service.feedback("rest", "feedfeedfeedfeed", correct=True), UnknownRequest),
        (lambda: service.feedback("rest", answers.request_id, correct=False, label="wolf"), InputError),
        (lambda: service.feedback("rest", answers.request_id, correct=False), InputError),  # wrong: say which
        (lambda: service.feedback("rest", answers.request_id, correct=False, label="cat"), InputError),  # was cat
        (lambda: service.feedback("rest", answers.request_id, correct=True, label="fox"), InputError),
        (lambda: service.feedback("rest", answers.request_id, correct=True, instance=2), InputError),
    ):
        with pytest.raises(refused):
            call()
    for body in ([], {"request_id": 5, "correct": True}, {"request_id": "a", "correct": "yes"}, {"x": 1}):
        with pytest.raises(InputError):
            parse_feedback(body)

    lines, unreadable = read_records(log_dir, SPEC.name)
    assert unreadable == 0 and [line["outcome"] for line in lines] == ["ok", "ok", "feedback", "feedback"]
    assert {line["request"] for line in lines} == {answers.request_id}
    assert [line["instance"] for line in lines] == [0, 1, 1, 0]
    assert lines[2]["feedback"] == {"correct": False, "label": "fox", "prediction": "dog"}


def test_the_latest_feedback_on_an_answer_counts_and_evidently_scores_it(log_dir: Path) -> None:
    service = Service(Echo())
    said = ["cat", "cat", "dog", "fox", "fox"]
    truth = ["cat", "dog", "dog", "cat", "fox"]
    for sent, true in zip(said, truth, strict=True):
        request = service.answer("rest", [sent]).request_id
        service.feedback("rest", request, correct=False, label="fox" if sent != "fox" else "dog")  # overruled next
        service.feedback("rest", request, correct=sent == true, label=None if sent == true else true)
    service.answer("rest", ["dog"])  # no feedback: not labelled

    frame, unmatched, other_version = labelled_frame(log_dir, SPEC)
    assert (len(frame), unmatched, other_version) == (5, 0, 0)
    assert frame.to_dict("list") == {"target": truth, "prediction": said}
    accuracy, recall, _ = classification_report(frame, SPEC)
    assert accuracy == pytest.approx(3 / 5)
    assert recall == pytest.approx({"cat": 1 / 2, "dog": 1 / 2, "fox": 1.0})
    two_labels = pd.DataFrame({"target": ["cat", "dog", "dog"], "prediction": ["cat", "cat", "dog"]})
    assert classification_report(two_labels, SPEC)[:2] == (pytest.approx(2 / 3), {"cat": 1.0, "dog": 0.5})


def _gender_rows(repo: Path, spec: ModelSpec, count: int) -> list[list[float]]:
    """`count` ingested rows inside the form's accepted ranges, as a client would send them."""
    with np.load(repo / "build" / "gender" / "ingest" / "dataset.npz") as dataset:
        rows = dataset["x"].astype(float).round(4)
    features = spec.input.features  # type: ignore[union-attr]
    low, high = np.array([f.minimum for f in features]), np.array([f.maximum for f in features])
    return rows[np.all((rows >= low) & (rows <= high), axis=1)][:count].tolist()


@pytest.mark.slow
@pytest.mark.integration
def test_feedback_from_rest_and_page_becomes_live_accuracy_in_the_drift_job(tiny_repo: Path, tmp_path: Path) -> None:
    import httpx
    from gradio_client import Client

    from shared.features import read_examples_csv
    from shared.server import space_app
    from shared.service import load_services
    from shared.suite import load_space

    folder = tiny_repo / "dist" / "spaces" / "gender"
    services = load_services(folder / "model")
    spec = services["gender"].spec
    rows = _gender_rows(tiny_repo, spec, 60)
    log = tmp_path / "traffic"
    truths, predictions = [], []
    traffic.configure("gender", environ={"SPACESUITE_TRAFFIC_DIR": str(log)})
    try:
        with serving(space_app(load_space(folder, services), services)) as url:
            api = f"{url}/v1/models/gender"
            for index, row in enumerate(rows):
                answer = httpx.post(f"{api}:predict", json={"instances": [row]}, timeout=30).json()
                predicted = spec.labels[int(np.argmax(answer["predictions"][0]))]
                other = next(label for label in spec.labels if label != predicted)
                correct = index % 3 != 0  # a third of the answers are said to be wrong
                body = {"request_id": answer["request_id"], "correct": correct}
                said = httpx.post(f"{api}:feedback", json=body if correct else {**body, "label": other}, timeout=30)
                assert said.status_code == 200, said.text
                assert said.json()["label"] == (predicted if correct else other)
                truths.append(predicted if correct else other)
                predictions.append(predicted)

            request_id = answer["request_id"]
            for body, status in (
                ({"request_id": request_id, "correct": False, "label": "Cat"}, 400),  # a label the model lacks
                ({"request_id": "0123456789abcdef", "correct": True}, 404),  # an answer nobody got
                ({"request_id": request_id, "correct": "maybe"}, 400),
                ({"request_id": request_id}, 400),
            ):
                refused = httpx.post(f"{api}:feedback", json=body, timeout=30)
                assert refused.status_code == status, refused.text
                assert set(refused.json()) == {"error"}
            assert httpx.post(f"{url}/v1/models/housing:feedback", json={}, timeout=30).status_code == 404

            client = Client(url, verbose=False)  # the page: an answer, then "Wrong, it was: ..." in that session
            form = read_examples_csv(folder / "examples" / "examples.csv")[0]
            page_answer = client.predict(
                *[bool(v) if i not in (1, 2) else v for i, v in enumerate(form)], api_name="/predict"
            )["label"]
            other = next(label for label in spec.labels if label != page_answer)
            assert other in client.predict(other, api_name="/predict_wrong")
            truths.append(other)
            predictions.append(page_answer)

            exposition = httpx.get(f"{url}/metrics/", timeout=30).text
        wrong_lines = [line for line in exposition.splitlines() if line.startswith("spacesuite_feedback_total{")]
        assert 'spacesuite_feedback_total{model="gender",verdict="wrong"} ' in "\n".join(wrong_lines), wrong_lines
    finally:
        traffic.configure()

    expected_accuracy = float(np.mean(np.array(truths) == np.array(predictions)))
    assert 0 < expected_accuracy < 0.8  # below drift.min_live_accuracy: the job must alert
    frame = pd.DataFrame({"truth": truths, "prediction": predictions})
    expected_recall = {
        label: float((group["prediction"] == label).mean()) for label, group in frame.groupby("truth") if len(group)
    }

    with webhook() as (hook, received):
        job = run(
            ["spacesuite", "drift", "gender", "--traffic", str(log), "--out", "fb", "--metrics", "fb/m.json"],
            tiny_repo,
            env_extra={"DISCORD_WEBHOOK_URL": hook},
        )
    assert job.returncode == 1, job.stdout + job.stderr  # live accuracy below the threshold fails the job
    assert f"gender: live accuracy {expected_accuracy:.1%} over {len(truths)} labelled answers" in job.stderr
    live = json.loads((tiny_repo / "fb" / "m.json").read_text())["gender"]["live"]
    assert live["labelled"] == len(truths) == 61
    assert live["accuracy"] == pytest.approx(expected_accuracy, abs=1e-4)
    assert live["recall"] == pytest.approx(expected_recall, abs=1e-4)
    assert live["checked"] and live["below_threshold"]
    assert len(received) == 1 and "gender:" in received[0]["content"] and "live accuracy" in received[0]["content"]
    summary = (tiny_repo / "fb" / "summary.md").read_text()
    assert f"| gender | feedback | - | live accuracy {expected_accuracy:.1%} over 61 labelled answers" in summary
    report = json.loads((tiny_repo / "fb" / "gender" / "live_quality.json").read_text())
    accuracy = [m["value"] for m in report["metrics"] if m["config"]["type"].endswith(":Accuracy")]
    assert accuracy == [pytest.approx(expected_accuracy)]
    assert (tiny_repo / "fb" / "gender" / "live_quality.html").is_file()
