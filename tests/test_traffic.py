"""The traffic log: what a record holds, what it keeps, and that no answered request is lost to `kill -9`."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from conftest import free_port, running_space

from shared import traffic
from shared.artifact import DataProvenance, ImageInput, ModelSpec
from shared.errors import InputError
from shared.prediction import Prediction
from shared.service import Record, Service
from shared.traffic import TrafficLog, push_interval, read_records, start_hub_push

SPEC = ModelSpec(
    name="unit-model",
    version=2,
    task="image-classification",
    labels=["a", "b"],
    input=ImageInput(height=4, width=4),
    files={},
    data=DataProvenance(source="sample", description="test"),
)


@pytest.fixture
def log_dir(tmp_path: Path) -> Iterator[Path]:
    """This process's traffic log, pointed at a fresh folder for one test (and back to the session's after)."""
    folder = tmp_path / "traffic"
    traffic.configure("unit-space", environ={"SPACESUITE_TRAFFIC_DIR": str(folder)})
    yield folder
    traffic.configure()


class Flat:
    """An in-memory model for the service: a flat image is refused, anything else answered b."""

    spec = SPEC
    folder = Path()

    def predict_one(self, instance: str) -> Prediction:
        if instance == "flat":
            raise InputError("The image is a single flat color.")
        pixels = np.full((4, 4, 1), 0.25, dtype=np.float32)
        return Prediction({"a": 0.3, "b": 0.7}, inputs={"brightness": 0.25, "contrast": 0.0}, pixels=pixels)


def test_a_request_is_one_record_with_inputs_prediction_and_latency(log_dir: Path) -> None:
    service = Service(Flat())
    service.answer("predict", ["photo"])
    with pytest.raises(InputError):
        service.answer("predict", ["flat"])

    records, unreadable = read_records(log_dir)
    assert unreadable == 0
    assert len(records) == 2
    answer, refusal = records
    assert answer["space"] == "unit-space"
    assert answer["model"] == "unit-model" and answer["version"] == 2 and answer["endpoint"] == "predict"
    assert answer["outcome"] == "ok" and answer["prediction"] == "b" and answer["confidence"] == pytest.approx(0.7)
    assert answer["inputs"] == {"brightness": 0.25, "contrast": 0.0}  # statistics, no pixels by default
    assert answer["latency_ms"] >= 0 and answer["time"].endswith("+00:00")
    assert refusal["outcome"] == "input_error" and "inputs" not in refusal
    assert refusal["error"] == "The image is a single flat color."


def test_keep_stats_drops_text_and_keep_images_adds_the_model_input(tmp_path: Path) -> None:
    pixels = np.linspace(0, 1, 16, dtype=np.float32).reshape(4, 4, 1)
    inputs = {"text": "hi there", "characters": 8, "known_share": math.nan}
    request = Record(SPEC, "predict", "ok", 0.01, [Prediction({"joy": 0.9, "fear": 0.1}, inputs=inputs, pixels=pixels)])
    stats = TrafficLog(tmp_path, "s", keep="stats").records(request)[0]
    assert "text" not in stats["inputs"] and stats["inputs"]["characters"] == 8
    assert stats["inputs"]["known_share"] is None  # NaN is not JSON: written as null
    assert stats["prediction"] == "joy" and stats["confidence"] == 0.9
    safe = TrafficLog(tmp_path, "s").records(request)[0]
    assert safe["inputs"]["text"] == "hi there" and "image_png" not in safe["inputs"]
    images = TrafficLog(tmp_path, "s", keep="images").records(request)[0]
    assert images["inputs"]["image_png"].startswith("iVBOR")  # base64 of the PNG signature
    with pytest.raises(ValueError, match="SPACESUITE_TRAFFIC_KEEP"):
        TrafficLog(tmp_path, "s", keep="raw")  # type: ignore[arg-type]


def test_torn_lines_are_counted_not_fatal(tmp_path: Path) -> None:
    log = TrafficLog(tmp_path, "s")
    log.write([{"model": "m", "outcome": "ok"}, {"model": "other", "outcome": "ok"}])
    log.close()
    with log.path.open("a", encoding="utf-8") as handle:
        handle.write('{"model": "m", "outc')  # a power cut mid-line
    records, unreadable = read_records(tmp_path, "m")
    assert [record["model"] for record in records] == ["m"] and unreadable == 1


SHORT_WRITE = """
import json, os, resource, signal, sys
from shared import limits
from shared.traffic import TrafficLog

limits.LOG_RETRY_S = 0.0  # retry at the next record
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # beyond RLIMIT_FSIZE, write() is short, then fails (EFBIG)
log = TrafficLog(sys.argv[1], "s")
assert log.write([{"n": 1}])
size = log.path.stat().st_size
resource.setrlimit(resource.RLIMIT_FSIZE, (size + 10, resource.RLIM_INFINITY))
assert not log.write([{"n": 2, "filler": "x" * 100}])  # 10 bytes written, then the file is full
resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
assert log.write([{"n": 3}])
print(log.path, log.lost)
"""


def test_a_short_write_is_followed_by_an_intact_record(tmp_path: Path) -> None:
    script = subprocess.run(
        [sys.executable, "-c", SHORT_WRITE, str(tmp_path)], capture_output=True, text=True, timeout=60, check=False
    )
    assert script.returncode == 0, script.stderr
    path, lost = script.stdout.split()
    lines = Path(path).read_text().splitlines()
    assert lines[0] == '{"n": 1}' and lines[1].startswith('{"n": 2') and lines[2] == '{"n": 3}' and lost == "1"
    records, unreadable = read_records(tmp_path)
    assert [record["n"] for record in records] == [1, 3] and unreadable == 1  # the torn line never swallows n=3


def test_a_full_disk_warns_once_and_the_service_keeps_answering(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    log = TrafficLog(tmp_path, "s")
    log.path.symlink_to("/dev/full")  # every write: ENOSPC
    for n in range(3):
        assert not log.write([{"n": n}])
        log._retry_at = 0.0  # retry at once, as after LOG_RETRY_S
    warnings = [r for r in caplog.records if r.name == "shared.traffic" and r.levelname == "WARNING"]
    assert len(warnings) == 1 and "No space left" in warnings[0].getMessage() and log.lost == 3


def test_a_read_only_log_folder_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    folder = Path("/sys/spacesuite-traffic")  # cannot be created, even by root
    traffic.configure("unit-space", environ={"SPACESUITE_TRAFFIC_DIR": str(folder)})
    try:
        service = Service(Flat())
        for _ in range(5):
            assert service.answer("predict", ["photo"])[0].top[0] == "b"
    finally:
        traffic.configure()
    warnings = [r for r in caplog.records if r.name == "shared.traffic"]
    assert len(warnings) == 1 and warnings[0].levelname == "WARNING" and "cannot write" in warnings[0].getMessage()


def test_the_log_rotates_by_size_and_writes_ascii_only(tmp_path: Path) -> None:
    log = TrafficLog(tmp_path, "s", rotate_bytes=200)
    hostile = '\x1b[2J\u2028forged\n{"model": "x"}\ud800'  # escape, line separator, newline, lone surrogate
    for n in range(6):
        assert log.write([{"n": n, "text": hostile}])
    files = sorted(tmp_path.glob("*.jsonl"))
    assert len(files) >= 2 and all(path.stat().st_size < 400 for path in files)
    data = b"".join(path.read_bytes() for path in files)
    assert data.isascii() and b"\x1b" not in data and data.count(b"\n") == 6
    records, unreadable = read_records(tmp_path)
    assert sorted(record["n"] for record in records) == list(range(6)) and unreadable == 0
    assert records[0]["text"] == hostile


def test_logging_can_be_switched_off_and_the_hub_push_needs_a_repo(tmp_path: Path) -> None:
    assert traffic.traffic_settings({"SPACESUITE_TRAFFIC_DIR": "off"})[0] is None
    assert traffic.traffic_settings({})[0] == Path("traffic")
    assert start_hub_push(tmp_path, {"HF_TOKEN": "hf_unused"}) is None  # no SPACESUITE_TRAFFIC_REPO: stays local
    assert push_interval("5") == 5
    for bad in ("4", "soon", "nan"):
        with pytest.raises(ValueError, match="SPACESUITE_TRAFFIC_EVERY"):
            push_interval(bad)


@pytest.mark.integration
@pytest.mark.slow
def test_the_page_logs_image_statistics_of_what_it_answered(bundle_dir: Path, log_dir: Path) -> None:
    from gradio_client import handle_file

    example = sorted((bundle_dir / "examples").glob("*.png"))[0]
    with running_space(bundle_dir) as client:
        label = client.predict(handle_file(str(example)), api_name="/predict")[0]["label"]
    records, _ = read_records(log_dir, "sign-language")
    assert len(records) == 1
    record = records[0]
    assert record["endpoint"] == "predict" and record["outcome"] == "ok" and record["prediction"] == label
    assert set(record["inputs"]) == {"brightness", "contrast"}
    assert 0 < record["inputs"]["brightness"] < 1


@pytest.mark.integration
@pytest.mark.slow
def test_every_request_is_one_record_that_the_metrics_and_the_log_both_count(spaces_dir: Path, log_dir: Path) -> None:
    """A burst of page and REST calls, good and bad: the Prometheus counters and the traffic log see the same
    requests (by endpoint and outcome) and the same answers (by predicted class), since both consume one record."""
    from collections import Counter

    import httpx
    from conftest import serving
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    from shared.features import read_examples_csv
    from shared.metrics import REGISTRY
    from shared.server import space_app
    from shared.service import load_services
    from shared.suite import load_space

    def counted() -> tuple[Counter, Counter]:
        requests, labels = Counter(), Counter()
        for metric in REGISTRY.collect():
            for sample in metric.samples:
                if sample.labels.get("model") != "gender":
                    continue
                if sample.name == "spacesuite_requests_total":
                    requests[(sample.labels["endpoint"], sample.labels["outcome"])] += sample.value
                elif sample.name == "spacesuite_predictions_total":
                    labels[sample.labels["label"]] += sample.value
        return requests, labels

    folder = spaces_dir / "gender"
    services = load_services(folder / "model")
    rows = read_examples_csv(folder / "examples" / "examples.csv")
    requests_before, labels_before = counted()
    with serving(space_app(load_space(folder, services), services)) as url:
        client = Client(url, verbose=False)
        for row in rows[:4]:
            client.predict(*[bool(v) if i not in (1, 2) else v for i, v in enumerate(row)], api_name="/predict")
        with pytest.raises(AppError):
            client.predict(True, 999.0, 6.0, False, False, False, False, api_name="/predict")
        for body in ({"instances": rows[:3]}, {"instances": [rows[0]]}, {"instances": [[1, 99]]}, {"inputs": "x"}):
            httpx.post(f"{url}/v1/models/gender:predict", json=body, timeout=30)
    requests_after, labels_after = counted()
    lines, _ = read_records(log_dir, "gender")
    first_line = {line["request"]: line for line in reversed(lines)}  # one request, one or more lines
    logged_requests = Counter((line["endpoint"], line["outcome"]) for line in first_line.values())
    logged_labels = Counter(line["prediction"] for line in lines if line["outcome"] == "ok")
    assert logged_requests == requests_after - requests_before
    assert logged_labels == labels_after - labels_before
    assert logged_requests[("predict", "ok")] == len(rows[:4]) >= 2 and logged_requests[("rest", "ok")] == 2
    # a bad row, and a body refused before any instance was read ({"inputs": "x"}): both recorded
    assert logged_requests[("predict", "input_error")] == 1 and logged_requests[("rest", "input_error")] == 2
    assert len(lines) == sum(logged_requests.values()) + len(rows[:3]) - 1  # the 3-row request logs a line a row


def _post(url: str, body: bytes) -> int:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return 0  # the server was killed while this request was in flight


@pytest.mark.integration
@pytest.mark.slow
def test_kill_9_loses_no_answered_request(spaces_dir: Path, tmp_path: Path) -> None:
    """A burst of REST requests from 8 clients; the Space is killed with SIGKILL mid-burst. Every request that got
    an answer (200 or 400) must have its record in the log."""
    folder = tmp_path / "traffic"
    port = free_port()
    env = {
        **os.environ,
        "SPACESUITE_TRAFFIC_DIR": str(folder),
        "GRADIO_SERVER_PORT": str(port),
        "GRADIO_ANALYTICS_ENABLED": "False",
    }
    server_log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "app.py"], cwd=spaces_dir / "gender", env=env, stdout=server_log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}/v1/models/gender:predict"
    try:
        for _ in range(600):
            if _post(url, b'{"instances": [[1, 12.0, 6.0, 1, 0, 1, 0]]}') == 200:
                break
            assert server.poll() is None, (tmp_path / "server.log").read_text()
            time.sleep(0.1)
        answered = {"ok": 0, "input_error": 0}
        lock = threading.Lock()
        stop = threading.Event()

        def client(index: int) -> None:
            while not stop.is_set():
                body = b'{"instances": [[1, 12.0, 6.0, 1, 0, 1, 0]]}' if index % 4 else b'{"instances": [[1, 99]]}'
                status = _post(url, body)
                if status == 0:
                    return
                with lock:
                    answered["ok" if status == 200 else "input_error"] += 1

        threads = [threading.Thread(target=client, args=(index,)) for index in range(8)]
        for thread in threads:
            thread.start()
        time.sleep(2.0)
        server.send_signal(signal.SIGKILL)
        server.wait(timeout=10)
        stop.set()
        for thread in threads:
            thread.join(timeout=20)
    finally:
        if server.poll() is None:
            server.kill()
        server_log.close()
    records, unreadable = read_records(folder, "gender")
    logged = {outcome: sum(record["outcome"] == outcome for record in records) for outcome in answered}
    assert answered["ok"] > 50, answered  # the burst really ran
    assert unreadable == 0
    for outcome in answered:  # at most the 8 in-flight requests were logged but never answered
        assert answered[outcome] <= logged[outcome] <= answered[outcome] + 8, (answered, logged)
    assert all(json.dumps(record) for record in records)


def test_the_page_tells_users_what_is_logged(monkeypatch: pytest.MonkeyPatch) -> None:
    from shared.ui import logging_notice

    monkeypatch.setenv("SPACESUITE_TRAFFIC_DIR", "traffic")
    assert "never the image" in logging_notice("image")
    assert "the text you typed" in logging_notice("text")
    monkeypatch.setenv("SPACESUITE_TRAFFIC_KEEP", "stats")
    assert "not the text" in logging_notice("text")
    monkeypatch.setenv("SPACESUITE_TRAFFIC_DIR", "off")
    assert logging_notice("tabular") == ""
