"""What the traffic log costs, and the alternatives it was chosen over.

1. Per record, 20,000 records of a typical answer (gender: 7 features, label, confidence), one writer:
   JSON lines with one O_APPEND write each (what `shared.traffic` does), the same with fsync per record, and
   SQLite in WAL mode with synchronous=NORMAL (survives a process kill, like the write) and FULL (survives a
   power cut, like fsync), one transaction per record.
2. Per request, end to end: the gender model's REST API served by uvicorn on 127.0.0.1, 2,000 sequential
   `:predict` calls with the log off, on, and on with fsync; p50 and mean latency.

Run from the repository root after the pipeline::

    .venv/bin/python bench/traffic_log.py
"""

from __future__ import annotations

import json
import os
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from shared import traffic  # noqa: E402
from shared.artifact import ModelSpec  # noqa: E402
from shared.prediction import Prediction  # noqa: E402
from shared.service import Record  # noqa: E402
from shared.traffic import TrafficLog  # noqa: E402

RECORDS = 20_000
REQUESTS = 2_000
SPEC = ModelSpec.load(REPO / "dist" / "spaces" / "gender" / "model") if (REPO / "dist").is_dir() else None
PREDICTION = Prediction(
    confidences={"Female": 0.987, "Male": 0.013},
    inputs={"long_hair": 1.0, "forehead_width_cm": 12.1, "forehead_height_cm": 5.9, "nose_wide": 0.0,
            "nose_long": 1.0, "lips_thin": 0.0, "distance_nose_to_lip_long": 1.0},
)  # fmt: skip


def request() -> Record:
    """One answered REST request of the gender model, as the service records it."""
    assert SPEC is not None, "run `dvc repro` first: the benchmark reads dist/spaces/gender"
    return Record(SPEC, "rest", "ok", 0.004, [PREDICTION])


def per_record(folder: Path) -> None:
    print(f"per record ({RECORDS:,} records, one writer)")
    for label, fsync in (("JSON lines, O_APPEND write", False), ("JSON lines, write + fsync", True)):
        log = TrafficLog(folder / label.replace(" ", "_"), "bench", fsync=fsync)
        count = RECORDS if not fsync else RECORDS // 10
        start = time.perf_counter()
        for _ in range(count):
            log.write(log.records(request()))
        elapsed = time.perf_counter() - start
        log.close()
        print(f"  {label:<34} {elapsed / count * 1e6:8.1f} µs")
    for synchronous in ("NORMAL", "FULL"):
        db = sqlite3.connect(folder / f"traffic-{synchronous}.db", isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(f"PRAGMA synchronous={synchronous}")
        db.execute("CREATE TABLE traffic (record TEXT)")
        count = RECORDS if synchronous == "NORMAL" else RECORDS // 10
        log = TrafficLog(folder, "bench")
        start = time.perf_counter()
        for _ in range(count):
            record = log.records(request())[0]
            db.execute("INSERT INTO traffic VALUES (?)", (json.dumps(record),))
        elapsed = time.perf_counter() - start
        db.close()
        print(f"  {'SQLite WAL, synchronous=' + synchronous:<34} {elapsed / count * 1e6:8.1f} µs")


def per_request(folder: Path) -> None:
    import httpx
    import uvicorn
    from fastapi import FastAPI

    from shared.adapters import adapters
    from shared.service import load_services
    from shared.tf_serving import tf_serving_router

    model_dir = REPO / "dist" / "spaces" / "gender" / "model"
    app = FastAPI()
    app.include_router(tf_serving_router(adapters(load_services(model_dir))))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1/models/gender:predict"
    body = {"instances": [[1, 12.1, 5.9, 0, 1, 0, 1]]}
    print(f"per request (gender REST :predict, {REQUESTS:,} sequential calls on one connection)")
    with httpx.Client() as client:
        for label, environ in (
            ("log off", {"SPACESUITE_TRAFFIC_DIR": "off"}),
            ("log on", {"SPACESUITE_TRAFFIC_DIR": str(folder / "on")}),
            ("log on, fsync", {"SPACESUITE_TRAFFIC_DIR": str(folder / "fsync"), "SPACESUITE_TRAFFIC_FSYNC": "1"}),
        ):
            traffic.configure("bench", environ=environ)
            for _ in range(100):
                client.post(url, json=body)
            times = []
            for _ in range(REQUESTS):
                start = time.perf_counter()
                assert client.post(url, json=body).status_code == 200
                times.append(time.perf_counter() - start)
            p50, mean = statistics.median(times) * 1e3, statistics.fmean(times) * 1e3
            print(f"  {label:<14} p50 {p50:6.3f} ms  mean {mean:6.3f} ms")
    server.should_exit = True
    thread.join(timeout=10)


def main() -> None:
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as folder:
        per_record(Path(folder))
        per_request(Path(folder))


if __name__ == "__main__":
    main()
