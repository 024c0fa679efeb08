"""Cold start, memory and per-request latency of every bundled Space, one endpoint each.

What it measures (all traffic to 127.0.0.1; every server it starts is stopped). For each Space in
``dist/spaces/`` (or ``--space``), with each of its endpoints below:

a. cold start: spawn ``python app.py`` in the bundle folder and time process start → first answer over
   HTTP (``--cold-runs`` times);
b. latency through Gradio's raw HTTP API the two-step way (``POST /gradio_api/call/<endpoint>`` → SSE
   until ``complete``), image uploads included in every request (``POST /gradio_api/upload``), p50/p99
   over ``--requests`` calls after 20 warm-up calls;
c. RSS of the server (children included) after the series.

Endpoints: sign-language ``/predict`` (an example PNG), bird-species ``/predict`` (an example JPEG),
keras-basics ``/digit`` (an example PNG) and ``/price`` (the form's defaults), emotion ``/predict`` (an
example text), gender ``/predict`` (the form's defaults).
Goals: cold start ≤ 4.5 s, RSS ≤ 200 MiB (sign-language), p50 ≤ 30 ms. ``sign-language`` has a deeper
breakdown in ``space_latency.py``.

With ``--floor``, the same run also measures Gradio's own floor: a trivial image app (``gr.Image`` →
``gr.Label``, no model, Gradio's defaults) served the same way and called with the same image, and prints
each image Space's cold start, p50 and RSS above it (goal: a Space stays near the floor).

Run from the repository root after the pipeline (about a minute per Space)::

    python3.11 -m venv /tmp/space-venv && /tmp/space-venv/bin/pip install -r dist/spaces/keras-basics/requirements.txt
    .venv/bin/python bench/spaces_latency.py --python /tmp/space-venv/bin/python
    .venv/bin/python bench/spaces_latency.py --space sign-language --floor --shared shared   # this checkout's code
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from space_latency import HOST, free_port, memory_mib, percentiles, spawn_space, stop, wait_port

REPO = Path(__file__).resolve().parents[1]
DIST = REPO / "dist" / "spaces"
FLOOR = "gradio-floor"
FLOOR_APP = """
import gradio as gr


def predict(path):
    return {"a": 1.0}


with gr.Blocks() as demo:
    image = gr.Image(type="filepath")
    label = gr.Label()
    gr.Button().click(predict, image, label, api_name="predict")

demo.launch(server_name="127.0.0.1")
"""


def floor_app(tmp: Path, image: Path) -> Path:
    """A folder with Gradio's floor: a trivial image app (no model), and the image it is called with."""
    folder = tmp / FLOOR
    (folder / "examples").mkdir(parents=True, exist_ok=True)
    (folder / "app.py").write_text(FLOOR_APP)
    (folder / "examples" / image.name).write_bytes(image.read_bytes())
    return folder


def _image(bundle: Path, pattern: str) -> dict[str, Any]:
    path = sorted((bundle / "examples").glob(pattern))[0]
    return {"file": path}


def endpoints(bundle: Path) -> dict[str, dict[str, Any]]:
    """The endpoints timed for a Space, each with an image file to upload or a list of form values."""
    name = bundle.name
    if name == "keras-basics":
        spec = json.loads((bundle / "model" / "housing" / "spec.json").read_text())
        form = [feature["default"] for feature in spec["input"]["features"]]
        return {"digit": {"file": bundle / "examples" / "digits" / "3.png"}, "price": {"values": form}}
    if name == "emotion":
        return {"predict": {"values": json.loads((bundle / "examples" / "examples.json").read_text())[:1]}}
    if name == FLOOR:
        return {"predict": _image(bundle, "*")}
    if name == "gender":
        features = json.loads((bundle / "model" / "spec.json").read_text())["input"]["features"]
        form = [bool(f["default"]) if f["kind"] == "binary" else f["default"] for f in features]
        return {"predict": {"values": form}}
    return {"predict": _image(bundle, "*.jpg" if name == "bird-species" else "*.png")}


def call(client: httpx.Client, endpoint: str, request: dict[str, Any]) -> float:
    """One call the two-step way (upload if an image, call, read SSE until complete); return its seconds."""
    start = time.perf_counter()
    if "file" in request:
        path: Path = request["file"]
        mime = "image/jpeg" if path.suffix == ".jpg" else "image/png"
        reply = client.post("/gradio_api/upload", files={"files": (path.name, path.read_bytes(), mime)})
        reply.raise_for_status()
        data = [{"path": reply.json()[0], "meta": {"_type": "gradio.FileData"}}]
    else:
        data = list(request["values"])
    reply = client.post(f"/gradio_api/call/{endpoint}", json={"data": data})
    reply.raise_for_status()
    event = None
    with client.stream("GET", f"/gradio_api/call/{endpoint}/{reply.json()['event_id']}") as stream:
        for line in stream.iter_lines():
            if line.startswith("event: "):
                event = line.removeprefix("event: ").strip()
            elif line.startswith("data: ") and event in ("complete", "error"):
                break
    if event != "complete":
        raise RuntimeError(f"{endpoint}: no complete event (last {event!r})")
    return time.perf_counter() - start


def first_answer(port: int, endpoint: str, request: dict[str, Any], timeout: float = 60.0) -> None:
    """Call until the server answers (its routes may not be mounted right after the port opens)."""
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=f"http://{HOST}:{port}", timeout=30) as client:
        while True:
            try:
                call(client, endpoint, request)
                return
            except (httpx.HTTPError, RuntimeError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.01)


def bench_space(python: Path, bundle: Path, requests: int, cold_runs: int, log: Path) -> dict[str, Any]:
    """Cold starts, then the latency series of every endpoint on one warm server, then its RSS."""
    named = endpoints(bundle)
    first_endpoint, first_request = next(iter(named.items()))
    colds = []
    process = None
    for run in range(cold_runs):
        port = free_port()
        start = time.perf_counter()
        process = spawn_space(python, bundle, port, log)
        wait_port(port, process)
        first_answer(port, first_endpoint, first_request)
        colds.append(time.perf_counter() - start)
        if run < cold_runs - 1:
            stop(process)
    assert process is not None
    try:
        latency = {}
        with httpx.Client(base_url=f"http://{HOST}:{port}", timeout=30) as client:
            for endpoint, request in named.items():
                for _ in range(20):
                    call(client, endpoint, request)
                latency[endpoint] = percentiles([call(client, endpoint, request) for _ in range(requests)])
        rss = memory_mib(process.pid)
    finally:
        stop(process)
    return {
        "cold_start_s": colds,
        "cold_start_median_s": statistics.median(colds),
        "latency_ms": latency,
        "memory": rss,
    }


def main(argv: list[str] | None = None) -> None:
    """Parse options, bench every Space, print one table (and optionally JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", type=Path, default=Path(sys.executable), help="Python that runs the Spaces")
    parser.add_argument("--space", action="append", help="a Space name under dist/spaces (default: all)")
    parser.add_argument("--dist", type=Path, default=DIST, help="folder of bundled Spaces (default: dist/spaces)")
    parser.add_argument("--shared", type=Path, help="serve with this shared/ package instead of the bundle's own")
    parser.add_argument("--floor", action="store_true", help="also measure a trivial Gradio image app")
    parser.add_argument("--requests", type=int, default=200, help="timed calls per endpoint")
    parser.add_argument("--cold-runs", type=int, default=3, help="cold starts per Space")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args(argv)
    from rest_throughput import bundle_copy

    names = args.space or sorted(p.name for p in args.dist.iterdir() if (p / "app.py").is_file())
    report = {}
    with tempfile.TemporaryDirectory(prefix="bench-spaces-") as tmp:
        bundles = [bundle_copy(args.dist / name, args.shared and args.shared.resolve(), Path(tmp)) for name in names]
        if args.floor:
            example = sorted((args.dist / "sign-language" / "examples").glob("*.png"))[0]
            bundles.insert(0, floor_app(Path(tmp), example))
        for bundle in bundles:
            log = Path(tmp) / "log"
            report[bundle.name] = bench_space(args.python, bundle, args.requests, args.cold_runs, log)
    print(f"\n{'Space / endpoint':<30}{'cold start s':>14}{'p50 ms':>10}{'p99 ms':>10}{'RSS MiB':>10}")
    for name, figures in report.items():
        for endpoint, latency in figures["latency_ms"].items():
            print(
                f"{name + ' /' + endpoint:<30}{figures['cold_start_median_s']:>14.2f}"
                f"{latency['p50_ms']:>10.1f}{latency['p99_ms']:>10.1f}{figures['memory']['rss_mib']:>10.0f}"
            )
    floor = report.get(FLOOR)
    if floor:
        print(f"\nabove Gradio's floor ({FLOOR}: a trivial image app, same image):")
        for name, figures in report.items():
            latency = figures["latency_ms"].get("predict") or figures["latency_ms"].get("digit")
            if name == FLOOR or latency is None or name not in ("sign-language", "bird-species", "keras-basics"):
                continue
            cold = figures["cold_start_median_s"] - floor["cold_start_median_s"]
            p50 = latency["p50_ms"] - floor["latency_ms"]["predict"]["p50_ms"]
            rss = figures["memory"]["rss_mib"] - floor["memory"]["rss_mib"]
            print(f"  {name:<28}cold start {cold:+.2f} s, p50 {p50:+.1f} ms, RSS {rss:+.0f} MiB")
    print(f"(python: {args.python}; cold start is the median of {args.cold_runs}; {args.requests} calls each)")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main()
