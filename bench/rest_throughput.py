"""Throughput and latency of every model's TF-Serving-style REST API under concurrent clients, against the
HTTP floor of the same server.

What it measures (127.0.0.1 only; every server it starts is stopped): for each bundled Space, ``python
app.py`` is started (page + REST in one process, as on the Hub); after 20 warm-up calls, ``--clients``
keep-alive connections (8 by default) each send ``--requests`` calls of ``POST /v1/models/<model>:predict``
with one instance (an example image as ``{"b64": ...}``, an example text, or a form row), one call at a time.
In the same run, with the same clients, it measures the floor: the same server answering its trivial JSON
endpoint ``GET /v1/models/<model>`` (the model's status), and the ceiling: LiteRT alone computing the model at
batch 1 and 8 in this process. It prints requests per second, p50/p99 latency, :predict's share of the floor,
the server's and the client's CPU per call (the load generator must not be the limit), the statuses (all 200)
and the machine's load average. Goals: sign-language :predict ≥ 70 % of the floor with p99 ≤ 3× p50;
bird-species ≥ 2× 196/s.

Run from the repository root after the pipeline, with a venv holding the Spaces' requirements::

    /tmp/space-venv/bin/pip install -r dist/spaces/emotion/requirements.txt -r dist/spaces/gender/requirements.txt
    .venv/bin/python bench/rest_throughput.py --python /tmp/space-venv/bin/python
    .venv/bin/python bench/rest_throughput.py --space sign-language --rounds 3   # floor and :predict, interleaved
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import re
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import psutil

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


def _request(base: str, model: str, instance: Any, *, floor: bool) -> bytes:
    """The raw HTTP/1.1 request a client sends: the model's status (`floor`) or a :predict of one instance."""
    host = base.removeprefix("http://")
    if floor:
        return f"GET /v1/models/{model} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    body = json.dumps({"instances": [instance]}).encode()
    head = (
        f"POST /v1/models/{model}:predict HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _client(base: str, request: bytes, count: int, samples: list[float], statuses: Counter[int]) -> None:
    """One keep-alive connection sending `request` `count` times, each after the previous answer was read whole."""
    host, port = base.removeprefix("http://").rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))  # asyncio sets TCP_NODELAY
    try:
        for _ in range(count):
            start = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
            if length is None:
                raise RuntimeError(f"an answer without Content-Length: {head[:200]!r}")
            await reader.readexactly(int(length[1]))
            samples.append(time.perf_counter() - start)
            statuses[int(head[9:12])] += 1
    finally:
        writer.close()


async def _load(base: str, request: bytes, clients: int, requests: int) -> tuple[list[float], Counter[int], float]:
    """20 warm-up calls on one connection, then `clients` connections × `requests` calls; the samples, the statuses
    and the wall time of the loaded part."""
    warm: Counter[int] = Counter()
    await _client(base, request, 20, [], warm)
    if set(warm) != {200}:
        raise RuntimeError(f"warm-up answers were not all 200: {dict(warm)}")
    samples: list[float] = []
    statuses: Counter[int] = Counter()
    start = time.perf_counter()
    await asyncio.gather(*(_client(base, request, requests, samples, statuses) for _ in range(clients)))
    return samples, statuses, time.perf_counter() - start


def hammer(
    base: str,
    model: str,
    instance: Any,
    clients: int,
    requests: int,
    *,
    floor: bool = False,
    server: psutil.Process | None = None,
) -> dict[str, Any]:
    """`clients` keep-alive connections × `requests` calls of :predict (or, with `floor`, of the model's status: the
    server's trivial JSON endpoint); return requests/s, latency percentiles, the statuses seen, and the CPU per call
    of the client and (given its process) of the server: on a shared machine, CPU per call says what requests/s
    cannot, what a call costs whatever the load.

    The load generator is one asyncio loop writing raw HTTP/1.1: httpx's sync client in 8 threads measured itself
    (~400/s against a server that answers 2,000/s), not the server.
    """
    request = _request(base, model, instance, floor=floor)
    cpu, server_cpu = time.process_time(), sum(server.cpu_times()[:2]) if server else 0.0
    samples, statuses, wall = asyncio.run(_load(base, request, clients, requests))
    calls = len(samples) + 20
    figures = {"requests_per_s": len(samples) / wall, "latency_ms": percentiles(samples), "statuses": dict(statuses)}
    figures["client_cpu_us"] = (time.process_time() - cpu) / calls * 1e6
    if server:
        figures["server_cpu_us"] = (sum(server.cpu_times()[:2]) - server_cpu) / calls * 1e6
    return figures


def model_folder(space: Path, model: str) -> Path:
    """The folder of one of a Space's models (`model/` or `model/<model>/`)."""
    single = space / "model"
    return single if (single / "spec.json").is_file() else single / model


def litert_ceiling(folder: Path, *, threads: int = 2, seconds: float = 1.0) -> dict[int | str, float] | None:
    """Rows per second LiteRT alone computes for a model at batch 1 and 8 (each on an interpreter allocated once for
    that size, `threads` threads as the Spaces use, synthetic inputs): the most its :predict can answer here, by
    batch, and the threads under "threads". None for a model without a .tflite (scikit-learn)."""
    from ai_edge_litert.interpreter import Interpreter

    spec = json.loads((folder / "spec.json").read_text())
    if "tflite" not in spec["files"]:
        return None
    rates = {}
    for batch in (1, 8):
        interpreter = Interpreter(model_path=str(folder / spec["files"]["tflite"]), num_threads=threads)
        details = interpreter.get_signature_runner("serving_default").get_input_details()[spec["signature_input"]]
        shape = [batch, *details["shape_signature"][1:]]
        interpreter.resize_tensor_input(details["index"], shape)
        interpreter.allocate_tensors()
        runner = interpreter.get_signature_runner("serving_default")
        rows = np.random.default_rng(0).random(shape).astype(details["dtype"])
        runner(**{spec["signature_input"]: rows})
        calls, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            runner(**{spec["signature_input"]: rows})
            calls += 1
        rates[batch] = calls * batch / (time.perf_counter() - start)
    return rates | {"threads": threads}


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
                wait_port(port, process, timeout=300)  # a loaded 2-core machine: imports can take minutes
                for model, instance in instances(bundle).items():
                    base = f"http://{HOST}:{port}"
                    floors, predicts, ceilings = [], [], []
                    for _ in range(args.rounds):
                        load = (base, model, instance, args.clients, args.requests)
                        floors.append(hammer(*load, floor=True, server=psutil.Process(process.pid)))
                        predicts.append(hammer(*load, server=psutil.Process(process.pid)))
                        ceilings.append(litert_ceiling(model_folder(bundle, model)))
                    report[model] = {"floor": median_round(floors), "predict": median_round(predicts)}
                    if ceilings[0] is not None:
                        report[model]["litert_rows_per_s"] = {
                            batch: float(np.median([rates[batch] for rates in ceilings])) for batch in (1, 8)
                        }
                        report[model]["litert_threads"] = ceilings[0]["threads"]
                    report[model]["share_of_floor"] = (
                        report[model]["predict"]["requests_per_s"] / report[model]["floor"]["requests_per_s"]
                    )
            finally:
                stop(process)
    print(f"\n{'model':<16}{'endpoint':<12}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'p99/p50':>9}  statuses, CPU/call")
    for model, both in report.items():
        for endpoint, figures in (("floor", both["floor"]), (":predict", both["predict"])):
            latency = figures["latency_ms"]
            print(
                f"{model:<16}{endpoint:<12}{figures['requests_per_s']:>10.1f}{latency['p50_ms']:>10.2f}"
                f"{latency['p99_ms']:>10.2f}{latency['p99_ms'] / latency['p50_ms']:>9.1f}  {figures['statuses']}, "
                f"server {figures['server_cpu_us']:.0f} µs, client {figures['client_cpu_us']:.0f} µs"
            )
        print(f"{model:<16}{':predict / floor':<22}{both['share_of_floor']:>8.0%}")
        for batch, rate in both.get("litert_rows_per_s", {}).items():
            threads = both["litert_threads"]
            print(f"{model:<16}{f'LiteRT alone, batch {batch}':<22}{rate:>8.1f} rows/s ({threads} thread(s), no HTTP)")
    print(
        f"({args.clients} concurrent clients × {args.requests} calls, one instance each; floor: GET "
        f"/v1/models/<model>; median of {args.rounds} round(s); python: {args.python}; shared: "
        f"{args.shared or 'the bundle copy'}; load average {' / '.join(f'{x:.1f}' for x in os.getloadavg())})"
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
