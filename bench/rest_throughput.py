"""Throughput and latency of every model's TF-Serving-style REST API under concurrent clients, against the
HTTP floor of the same server.

What it measures (127.0.0.1 only; every server it starts is stopped): for each bundled Space, ``python
app.py`` is started (page + REST in one process, as on the Hub); after 20 warm-up calls, ``--clients``
threads (8 by default) each send ``--requests`` calls of ``POST /v1/models/<model>:predict`` with one
instance (an example image as ``{"b64": ...}``, an example text, or a form row), each on its own
persistent connection. In the same run, with the same clients, it measures the floor: the same server
answering its trivial JSON endpoint ``GET /v1/models/<model>`` (the model's status). It prints requests per
second, p50/p99 latency per model and :predict's share of the floor, and checks every answer is HTTP 200.
Goals: sign-language :predict ≥ 70 % of the floor with p99 ≤ 3× p50; bird-species ≥ 2× 196/s.

Run from the repository root after the pipeline, with a venv holding the Spaces' requirements::

    /tmp/space-venv/bin/pip install -r dist/spaces/emotion/requirements.txt -r dist/spaces/gender/requirements.txt
    .venv/bin/python bench/rest_throughput.py --python /tmp/space-venv/bin/python
    .venv/bin/python bench/rest_throughput.py --space sign-language --rounds 3   # floor and :predict, interleaved
"""

from __future__ import annotations

import argparse
import base64
import json
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from space_latency import HOST, free_port, percentiles, spawn_space, stop, wait_port

REPO = Path(__file__).resolve().parents[1]
DIST = REPO / "dist" / "spaces"


def _b64(path: Path) -> dict[str, str]:
    return {"b64": base64.b64encode(path.read_bytes()).decode()}


def _defaults(spec_dir: Path) -> list[float]:
    spec = json.loads((spec_dir / "spec.json").read_text())
    return [feature["default"] for feature in spec["input"]["features"]]


def instances(space: Path) -> dict[str, Any]:
    """One instance per model the Space carries, by model name."""
    examples = space / "examples"
    if space.name == "keras-basics":
        return {"digits": _b64(examples / "digits" / "3.png"), "housing": _defaults(space / "model" / "housing")}
    if space.name == "emotion":
        return {"emotion": json.loads((examples / "examples.json").read_text())[0]}
    if space.name == "gender":
        return {"gender": _defaults(space / "model")}
    return {space.name: _b64(sorted(examples.glob("*.jpg" if space.name == "bird-species" else "*.png"))[0])}


def hammer(base: str, model: str, instance: Any, clients: int, requests: int, *, floor: bool = False) -> dict[str, Any]:
    """`clients` threads × `requests` calls of :predict (or, with `floor`, of the model's status: the server's
    trivial JSON endpoint); return requests/s, latency percentiles and the statuses seen."""
    body = json.dumps({"instances": [instance]})

    def call(http: httpx.Client) -> httpx.Response:
        if floor:
            return http.get(f"/v1/models/{model}")
        return http.post(f"/v1/models/{model}:predict", content=body)

    samples: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()

    def client() -> None:
        local, seen = [], {}
        with httpx.Client(base_url=base, timeout=60) as http:
            for _ in range(requests):
                start = time.perf_counter()
                reply = call(http)
                local.append(time.perf_counter() - start)
                seen[reply.status_code] = seen.get(reply.status_code, 0) + 1
        with lock:
            samples.extend(local)
            for code, count in seen.items():
                statuses[code] = statuses.get(code, 0) + count

    with httpx.Client(base_url=base, timeout=60) as http:
        for _ in range(20):
            call(http).raise_for_status()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - start
    return {"requests_per_s": len(samples) / wall, "latency_ms": percentiles(samples), "statuses": statuses}


def bundle_copy(bundle: Path, shared: Path | None, tmp: Path) -> Path:
    """The bundle itself, or (with `shared`) a copy of it whose `shared/` package is replaced by that folder: to
    measure other serving code (this checkout's, or another branch's) on the same models."""
    if shared is None:
        return bundle
    copy = tmp / "spaces" / bundle.name
    shutil.copytree(bundle, copy, ignore=shutil.ignore_patterns("shared", "__pycache__"), dirs_exist_ok=True)
    shutil.copytree(shared, copy / "shared", ignore=shutil.ignore_patterns("__pycache__"), dirs_exist_ok=True)
    return copy


def median_round(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """The round with the median requests/s (its latencies come with it)."""
    return sorted(rounds, key=lambda figures: figures["requests_per_s"])[len(rounds) // 2]


def main(argv: list[str] | None = None) -> None:
    """Parse options, run every Space in turn, print one table (and optionally JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", type=Path, default=Path(sys.executable), help="Python that runs the Spaces")
    parser.add_argument("--dist", type=Path, default=DIST, help="folder of bundled Spaces (default: dist/spaces)")
    parser.add_argument("--shared", type=Path, help="serve with this shared/ package instead of the bundle's own")
    parser.add_argument("--space", action="append", help="a Space name under dist/spaces (default: all)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients")
    parser.add_argument("--requests", type=int, default=50, help="calls per client")
    parser.add_argument("--rounds", type=int, default=1, help="floor and :predict runs, interleaved (median kept)")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args(argv)
    names = args.space or sorted(p.name for p in args.dist.iterdir() if (p / "app.py").is_file())
    report: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-rest-") as tmp:
        for name in names:
            bundle = bundle_copy(args.dist / name, args.shared, Path(tmp))
            port = free_port()
            process = spawn_space(args.python, bundle, port, Path(tmp) / "log")
            try:
                wait_port(port, process)
                for model, instance in instances(bundle).items():
                    base = f"http://{HOST}:{port}"
                    floors, predicts = [], []
                    for _ in range(args.rounds):
                        floors.append(hammer(base, model, instance, args.clients, args.requests, floor=True))
                        predicts.append(hammer(base, model, instance, args.clients, args.requests))
                    report[model] = {"floor": median_round(floors), "predict": median_round(predicts)}
                    report[model]["share_of_floor"] = (
                        report[model]["predict"]["requests_per_s"] / report[model]["floor"]["requests_per_s"]
                    )
            finally:
                stop(process)
    print(f"\n{'model':<16}{'endpoint':<12}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'p99/p50':>9}  statuses")
    for model, both in report.items():
        for endpoint, figures in (("floor", both["floor"]), (":predict", both["predict"])):
            latency = figures["latency_ms"]
            print(
                f"{model:<16}{endpoint:<12}{figures['requests_per_s']:>10.1f}{latency['p50_ms']:>10.2f}"
                f"{latency['p99_ms']:>10.2f}{latency['p99_ms'] / latency['p50_ms']:>9.1f}  {figures['statuses']}"
            )
        print(f"{model:<16}{':predict / floor':<22}{both['share_of_floor']:>8.0%}")
    print(
        f"({args.clients} concurrent clients × {args.requests} calls, one instance each; floor: GET "
        f"/v1/models/<model>; median of {args.rounds} round(s); python: {args.python}; shared: "
        f"{args.shared or 'the bundle copy'})"
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
