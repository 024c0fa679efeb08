"""Cold start, memory and per-request latency of the bundled sign-language Space, and where the time goes.

What it measures (all traffic to 127.0.0.1 only; every server it starts is stopped):

a. cold start: spawn ``python app.py`` in the bundle folder (``GRADIO_SERVER_PORT`` = a free port,
   ``GRADIO_ANALYTICS_ENABLED=False``) and time process start → first prediction answered over HTTP
   (repeated ``--cold-runs`` times; the first run may pay disk-cache misses);
b. RSS (and USS) of the server process, children included, after the first prediction, after warm-up and
   after the latency runs, plus RSS and p50 every 1/8 of the HTTP series (a growth trend shows there), and the
   CPU an idle server burns;
c. one-image latency through Gradio's raw HTTP API, the two-step way, upload included in every request:
   ``POST /gradio_api/upload`` → ``POST /gradio_api/call/predict`` → ``GET /gradio_api/call/predict/{id}``
   read as SSE until ``event: complete`` (httpx, one persistent connection); per-phase split too;
d. the same through ``gradio_client.Client.predict`` (which also downloads the output image);
e. in-process: LiteRT interpreter alone (``Predictor.from_artifact`` on the bundle's model/), the
   preprocessing alone (``shared.images.preprocess_image`` on an example PNG and on a generated 1024×768
   JPEG), the whole ``ImageClassifier.classify``, and Gradio's output postprocessing (gr.Label, gr.Image);
f. where cold start goes: a probe process timing interpreter start, ``import gradio``, the app's other
   imports, model load, Blocks build, server start and the first request; plus ``python -X importtime``
   of the app module, summed per top-level package.

Goals from the issue: cold start ≤ 4.5 s, RSS ≤ 200 MiB, one-image prediction ≤ 30 ms p50 through the HTTP API.

The server runs on this Python by default (the dev venv, which also has matplotlib, TensorFlow...). A Space
installs only the bundle's requirements.txt; for figures closer to it, make such a venv and pass ``--python``.
``--server-env KEY=VALUE`` passes settings to the server (e.g. ``GRADIO_ANALYTICS_CACHE_FREQUENCY``) to try them.

Run from the repository root (about 1.5 minutes; build the bundle first with the pipeline)::

    .venv/bin/python bench/space_latency.py
    python3.11 -m venv /tmp/space-venv && /tmp/space-venv/bin/pip install -r dist/spaces/sign-language/requirements.txt
    .venv/bin/python bench/space_latency.py --python /tmp/space-venv/bin/python --json bench/results/space.json
    .venv/bin/python bench/space_latency.py --requests 4000 --client-requests 20 --cold-runs 1  # growth over time
"""

from __future__ import annotations

import argparse
import io
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psutil
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
DEFAULT_BUNDLE = REPO / "dist" / "spaces" / "sign-language"
HOST = "127.0.0.1"
GOALS = {"cold_start_s": 4.5, "rss_mib": 200.0, "http_p50_ms": 30.0}
SERVER_ENV = {
    "GRADIO_ANALYTICS_ENABLED": "False",
    "GRADIO_SERVER_NAME": HOST,
    "DO_NOT_TRACK": "1",
}

# Runs inside the bundle folder (its own `shared/` first on sys.path), launching the app the way app.py does
# but with a timestamp after every phase. Prints one JSON line.
PROBE = r"""
import json, os, sys, time
t0 = float(os.environ["BENCH_T0"])
marks = {"interpreter start (python, site)": time.time() - t0}
def mark(name, start):
    marks[name] = time.perf_counter() - start
s = time.perf_counter(); import gradio as gr; mark("import gradio", s)
s = time.perf_counter()
import app
from shared.classifier import ImageClassifier
mark("import app + shared + LiteRT", s)
s = time.perf_counter(); ImageClassifier.from_artifact(app.HERE / "model"); mark("model load (spec + LiteRT)", s)
s = time.perf_counter(); demo = app.build_demo(); mark("build_demo (Blocks build + warm model load)", s)
s = time.perf_counter()
demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=int(os.environ["GRADIO_SERVER_PORT"]),
            quiet=True)
mark("launch (server up)", s)
import httpx
base = f"http://127.0.0.1:{os.environ['GRADIO_SERVER_PORT']}"
png = (app.HERE / "examples" / "A.png").read_bytes()
def request(client):
    path = client.post("/gradio_api/upload", files={"files": ("A.png", png, "image/png")}).json()[0]
    event = client.post("/gradio_api/call/predict",
                        json={"data": [{"path": path, "meta": {"_type": "gradio.FileData"}}]}).json()["event_id"]
    with client.stream("GET", f"/gradio_api/call/predict/{event}") as reply:
        for line in reply.iter_lines():
            if line.startswith("event: complete"):
                break
before = set(sys.modules)
with httpx.Client(base_url=base, timeout=30) as client:
    s = time.perf_counter(); request(client); mark("first request (upload + call + SSE)", s)
    marks["total"] = time.time() - t0
    s = time.perf_counter(); request(client); mark("second request, for comparison", s)
lazy = sorted(set(sys.modules) - before)
marks["modules imported during the first request"] = len(lazy)
marks["lazy packages"] = sorted({name.split(".")[0] for name in lazy})
print(json.dumps(marks), flush=True)
demo.close()
"""


# --- small helpers -----------------------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def percentiles(samples_s: list[float]) -> dict[str, float]:
    """p50, p90, p99, mean and max of durations in seconds, returned in milliseconds."""
    values = np.asarray(samples_s) * 1000.0
    return {
        "p50_ms": float(np.percentile(values, 50)),
        "p90_ms": float(np.percentile(values, 90)),
        "p99_ms": float(np.percentile(values, 99)),
        "mean_ms": float(values.mean()),
        "max_ms": float(values.max()),
        "n": len(values),
    }


def time_calls(function: Callable[[], Any], repeats: int, warmup: int = 5) -> dict[str, float]:
    """Call `function` `warmup` times untimed, then `repeats` times timed; return its percentiles."""
    for _ in range(warmup):
        function()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        samples.append(time.perf_counter() - start)
    return percentiles(samples)


EXTRA_ENV: dict[str, str] = {}  # --server-env KEY=VALUE (e.g. Gradio tuning knobs to try)


def server_env(port: int) -> dict[str, str]:
    """The environment a Space server process gets: this one plus the Gradio settings, --server-env and its port."""
    return {**os.environ, **SERVER_ENV, **EXTRA_ENV, "GRADIO_SERVER_PORT": str(port)}


def memory_mib(pid: int) -> dict[str, float]:
    """RSS and USS in MiB of a process plus all its children."""
    parent = psutil.Process(pid)
    processes = [parent, *parent.children(recursive=True)]
    rss = uss = 0
    for process in processes:
        try:
            info = process.memory_full_info()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        rss += info.rss
        uss += info.uss
    return {"rss_mib": rss / 2**20, "uss_mib": uss / 2**20, "processes": len(processes)}


def idle_cpu_percent(pid: int, seconds: float = 3.0) -> float:
    """CPU use of an idle server (process and children), in % of one core, averaged over `seconds`."""
    parent = psutil.Process(pid)
    processes = [parent, *parent.children(recursive=True)]
    before = sum(sum(p.cpu_times()[:2]) for p in processes)
    time.sleep(seconds)
    after = sum(sum(p.cpu_times()[:2]) for p in processes)
    return 100.0 * (after - before) / seconds


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop a server we started (SIGTERM, then SIGKILL after 5 s), children included."""
    if process.poll() is not None:
        return
    try:
        children = psutil.Process(process.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        children = []
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)
    for child in children:
        if child.is_running():
            child.kill()


# --- the raw HTTP API --------------------------------------------------------------------------------------


def http_predict(client: httpx.Client, name: str, payload: bytes, mime: str) -> dict[str, float]:
    """One prediction the two-step way (upload, call, SSE until complete); return each phase's seconds."""
    start = time.perf_counter()
    reply = client.post("/gradio_api/upload", files={"files": (name, payload, mime)})
    reply.raise_for_status()
    path = reply.json()[0]
    uploaded = time.perf_counter()
    reply = client.post(
        "/gradio_api/call/predict", json={"data": [{"path": path, "meta": {"_type": "gradio.FileData"}}]}
    )
    reply.raise_for_status()
    event_id = reply.json()["event_id"]
    called = time.perf_counter()
    event = None
    with client.stream("GET", f"/gradio_api/call/predict/{event_id}") as stream:
        for line in stream.iter_lines():
            if line.startswith("event: "):
                event = line.removeprefix("event: ").strip()
            elif line.startswith("data: ") and event in ("complete", "error"):
                if event == "error":
                    raise RuntimeError(f"prediction failed: {line}")
                json.loads(line.removeprefix("data: "))
                break
    done = time.perf_counter()
    if event != "complete":
        raise RuntimeError(f"SSE stream ended without a complete event (last event {event!r})")
    return {"upload": uploaded - start, "call": called - uploaded, "result (SSE)": done - called, "total": done - start}


def wait_port(port: int, process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    """Poll until 127.0.0.1:`port` accepts a TCP connection (cheap: no HTTP client is built per try)."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"the Space exited with {process.returncode} before listening")
        try:
            with socket.create_connection((HOST, port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def first_prediction(port: int, png: bytes, timeout: float = 30.0) -> None:
    """Send one prediction to a server that listens; retry while its routes are not mounted yet."""
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=f"http://{HOST}:{port}", timeout=30) as client:
        while True:
            try:
                http_predict(client, "A.png", png, "image/png")
                return
            except (httpx.HTTPStatusError, httpx.RemoteProtocolError, httpx.ConnectError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.01)


def spawn_space(python: Path, bundle: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    """Start `python app.py` in the bundle folder, exactly as a Space would (its output to `log`)."""
    with log.open("ab") as handle:
        return subprocess.Popen(
            [str(python), "app.py"], cwd=bundle, env=server_env(port), stdout=handle, stderr=subprocess.STDOUT
        )


def cold_start(
    python: Path, bundle: Path, png: bytes, log: Path
) -> tuple[dict[str, float], subprocess.Popen[bytes], int]:
    """Spawn the app; time process start → port open → first prediction answered. Return times and the server."""
    port = free_port()
    start = time.perf_counter()
    process = spawn_space(python, bundle, port, log)
    try:
        wait_port(port, process)
        listening = time.perf_counter() - start
        first_prediction(port, png)
    except BaseException:
        stop(process)
        raise
    return {"listening_s": listening, "first_prediction_s": time.perf_counter() - start}, process, port


# --- where the cold start goes -----------------------------------------------------------------------------


def cold_start_phases(python: Path, bundle: Path) -> dict[str, Any]:
    """Run PROBE in the bundle folder: seconds per phase of a cold start, from process start."""
    env = server_env(free_port())
    env["BENCH_T0"] = repr(time.time())
    result = subprocess.run(
        [str(python), "-c", PROBE], cwd=bundle, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    if result.returncode != 0 or not lines:
        raise RuntimeError(f"cold-start probe failed:\n{result.stderr[-3000:]}")
    return json.loads(lines[-1])


def import_times(python: Path, bundle: Path) -> dict[str, Any]:
    """`python -X importtime -c 'import app'` in the bundle: total, per top-level package, and top modules."""
    result = subprocess.run(
        [str(python), "-X", "importtime", "-c", "import app"],
        cwd=bundle,
        env=server_env(free_port()),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    by_package: dict[str, float] = defaultdict(float)
    modules: list[tuple[str, float, float]] = []
    top_level: list[tuple[str, float]] = []
    for line in result.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, cumulative_us, name = line.split(":", 1)[1].split("|", 2)
        module = name.rstrip()
        depth = (len(module) - len(module.lstrip()) - 1) // 2  # "| " then two spaces per nesting level
        module = module.strip()
        self_s, cumulative_s = int(self_us) / 1e6, int(cumulative_us) / 1e6
        by_package[module.split(".")[0]] += self_s
        modules.append((module, self_s, cumulative_s))
        if depth == 0:
            top_level.append((module, cumulative_s))
    total = sum(seconds for _, seconds in top_level)
    return {
        "total_s": total,
        "by_package_s": dict(sorted(by_package.items(), key=lambda item: -item[1])),
        "top_level_cumulative_s": dict(sorted(top_level, key=lambda item: -item[1])),
        "slowest_modules_self_s": {m: s for m, s, _ in sorted(modules, key=lambda item: -item[1])[:15]},
    }


# --- in-process figures ------------------------------------------------------------------------------------


def big_jpeg(width: int = 1024, height: int = 768) -> bytes:
    """A deterministic photo-like RGB JPEG (gradient, a bright blob, noise), quality 90."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    blob = np.exp(-(((xx - width / 2) / (width / 5)) ** 2 + ((yy - height / 2) / (height / 4)) ** 2))
    base = 40 + 60 * xx / width + 150 * blob
    rgb = np.stack([base, base * 0.8, base * 0.6], axis=-1) + rng.normal(0, 8, (height, width, 3))
    buffer = io.BytesIO()
    Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8)).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def in_process(bundle: Path, example: Path, jpeg: Path, repeats: int) -> dict[str, Any]:
    """LiteRT alone, preprocessing alone, classify() end to end, and Gradio's output postprocessing."""
    from shared.classifier import ImageClassifier
    from shared.images import preprocess_image
    from shared.predictor import Predictor

    figures: dict[str, Any] = {}
    start = time.perf_counter()
    predictor = Predictor.from_artifact(bundle / "model")
    figures["Predictor.from_artifact (load) ms"] = (time.perf_counter() - start) * 1000
    size = predictor.spec.input.size
    inputs, _ = preprocess_image(example, size)
    figures["LiteRT float, 1 image"] = time_calls(lambda: predictor.predict(inputs), repeats * 5, warmup=20)
    quantized = Predictor.from_artifact(bundle / "model", quantized=True)
    figures["LiteRT quantized, 1 image"] = time_calls(lambda: quantized.predict(inputs), repeats * 5, warmup=20)
    figures["preprocess_image, 28×28 example PNG"] = time_calls(lambda: preprocess_image(example, size), repeats)
    figures["preprocess_image, 1024×768 JPEG (path)"] = time_calls(lambda: preprocess_image(jpeg, size), repeats)
    classifier = ImageClassifier(predictor)
    figures["ImageClassifier.classify, example PNG"] = time_calls(lambda: classifier.classify(str(example)), repeats)
    figures["ImageClassifier.classify, 1024×768 JPEG"] = time_calls(lambda: classifier.classify(str(jpeg)), repeats)

    import gradio as gr

    prediction = classifier.classify(str(example))
    label = gr.Label(num_top_classes=5)
    webp, png = gr.Image(type="numpy"), gr.Image(type="numpy", format="png")
    figures["gr.Label.postprocess (24 classes)"] = time_calls(
        lambda: label.postprocess(prediction.confidences), repeats
    )
    figures["gr.Image.postprocess 140×140, WebP (default)"] = time_calls(
        lambda: webp.postprocess(prediction.model_view), repeats
    )
    figures["gr.Image.postprocess 140×140, format=png"] = time_calls(
        lambda: png.postprocess(prediction.model_view), repeats
    )
    return figures


# --- the report --------------------------------------------------------------------------------------------


def print_report(report: dict[str, Any]) -> None:
    """Print every figure as tables, goals beside the figures they judge."""

    def verdict(ok: bool) -> str:
        return "met" if ok else "MISSED"

    cold = report["cold_start"]
    print(f"\n== Space latency: {report['bundle']} (server Python: {report['python']})")
    if report["server_env"]:
        print(f"   extra server environment: {report['server_env']}")
    print(f"{'figure':<52}{'value':>14}{'goal':>12}{'':>8}")
    print("-" * 86)
    first = statistics.median(run["first_prediction_s"] for run in cold)
    ok = first <= GOALS["cold_start_s"]
    print(f"{'cold start → first HTTP prediction (median)':<52}{first:>12.2f} s{'≤ 4.5 s':>12}  {verdict(ok)}")
    runs = ", ".join(f"{run['first_prediction_s']:.2f}" for run in cold)
    print(f"{'  runs':<52}{runs:>14}")
    listening = statistics.median(run["listening_s"] for run in cold)
    print(f"{'  of which: process start → port open (median)':<52}{listening:>12.2f} s")
    for when, memory in report["memory"].items():
        ok = memory["rss_mib"] <= GOALS["rss_mib"]
        label = f"RSS {when} (incl. children)"
        print(f"{label:<52}{memory['rss_mib']:>10.0f} MiB{'≤ 200 MiB':>12}  {verdict(ok)}")
        print(f"{'  USS ' + when:<52}{memory['uss_mib']:>10.0f} MiB")
    print(f"{'idle server CPU (3 s, % of one core)':<52}{report['idle_cpu_percent']:>12.1f} %")
    print("  during the HTTP series, after n requests: RSS MiB / p50 ms of the last block")
    for done, rss, p50 in report["trace"]:
        print(f"{'    ' + str(done):<52}{rss:>10.0f} MiB{p50:>9.1f} ms")
    http = report["http"]["total"]
    ok = http["p50_ms"] <= GOALS["http_p50_ms"]
    print(f"{'HTTP API one image, p50':<52}{http['p50_ms']:>11.1f} ms{'≤ 30 ms':>12}  {verdict(ok)}")

    print(f"\n{'latency (ms)':<52}{'p50':>8}{'p90':>8}{'p99':>8}{'mean':>8}{'max':>8}{'n':>6}")
    print("-" * 98)
    rows = [(f"HTTP API: {phase}", stats) for phase, stats in report["http"].items()]
    rows += [(f"HTTP API 1024×768 JPEG: {p}", s) for p, s in report["http_big_jpeg"].items() if p == "total"]
    rows += [("gradio_client Client.predict (incl. download)", report["gradio_client"])]
    rows += [(name, stats) for name, stats in report["in_process"].items() if isinstance(stats, dict)]
    for name, stats in rows:
        cells = "".join(f"{stats[key]:>8.2f}" for key in ("p50_ms", "p90_ms", "p99_ms", "mean_ms", "max_ms"))
        print(f"{name:<52}{cells}{stats['n']:>6}")
    print(f"{'Predictor.from_artifact (load)':<52}{report['in_process']['Predictor.from_artifact (load) ms']:>8.2f}")
    print(f"{'gradio_client Client(url) construction':<52}{report['gradio_client_init_ms']:>8.2f}")

    print(f"\n{'cold start phases (probe process, same Python)':<52}{'s':>8}")
    print("-" * 60)
    for phase, value in report["cold_phases"].items():
        if isinstance(value, float):
            print(f"{phase:<52}{value:>8.3f}")
        elif isinstance(value, list):
            print(f"{phase:<52}{', '.join(value)}")
        else:
            print(f"{phase:<52}{value:>8}")

    imports = report["importtime"]
    title = 'python -X importtime -c "import app"'
    print(f"\n{title:<52}{'s':>8}   (total {imports['total_s']:.2f} s)")
    print("-" * 60)
    print("self time summed per top-level package:")
    for package, seconds in list(imports["by_package_s"].items())[:15]:
        print(f"  {package:<50}{seconds:>8.3f}")
    print("slowest single modules (self time):")
    for module, seconds in imports["slowest_modules_self_s"].items():
        print(f"  {module[:50]:<50}{seconds:>8.3f}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", type=Path, default=DEFAULT_BUNDLE, help="the bundled Space folder (read-only)")
    parser.add_argument("--requests", type=int, default=200, help="timed requests per HTTP/client series")
    parser.add_argument("--client-requests", type=int, default=200, help="timed gradio_client.predict calls")
    parser.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra environment for the server processes (repeatable), to try e.g. Gradio settings",
    )
    parser.add_argument("--cold-runs", type=int, default=3, help="how many cold starts to time")
    parser.add_argument(
        "--python",
        type=Path,
        default=Path(sys.executable),
        help="Python that runs the Space server (default: this one; a venv made from the bundle's "
        "requirements.txt is closer to a real Space, e.g. it has no matplotlib)",
    )
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here (e.g. bench/results/...)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Run every measurement in turn and print the report."""
    args = parse_args(argv)
    EXTRA_ENV.update(item.split("=", 1) for item in args.server_env)
    bundle = args.bundle.resolve()
    if not (bundle / "app.py").is_file():
        raise SystemExit(f"{bundle} has no app.py: build the bundle first (dvc repro)")
    example = bundle / "examples" / "A.png"
    png = example.read_bytes()
    python = args.python if args.python.is_absolute() else Path.cwd() / args.python  # not resolved: venv symlink
    report: dict[str, Any] = {
        "bundle": str(bundle),
        "python": str(python),
        "requests": args.requests,
        "server_env": EXTRA_ENV,
    }

    with tempfile.TemporaryDirectory(prefix="bench-space-") as tmp:
        jpeg_path = Path(tmp) / "photo.jpg"
        jpeg = big_jpeg()
        jpeg_path.write_bytes(jpeg)

        print("cold starts ...", flush=True)
        cold, process = [], None
        for run in range(args.cold_runs):
            times, process, port = cold_start(python, bundle, png, Path(tmp) / f"server-{run + 1}.log")
            cold.append(times)
            print(f"  run {run + 1}: {times['first_prediction_s']:.2f} s", flush=True)
            if run < args.cold_runs - 1:
                stop(process)
        report["cold_start"] = cold
        assert process is not None
        try:
            report["memory"] = {"after the first prediction": memory_mib(process.pid)}
            base_url = f"http://{HOST}:{port}"
            with httpx.Client(base_url=base_url, timeout=30) as client:
                for _ in range(20):
                    http_predict(client, "A.png", png, "image/png")
                report["memory"]["after warm-up (20 requests)"] = memory_mib(process.pid)
                report["idle_cpu_percent"] = idle_cpu_percent(process.pid)
                print(f"HTTP API x {args.requests} ...", flush=True)
                phases: dict[str, list[float]] = defaultdict(list)
                trace, block = [], max(1, args.requests // 8)
                for done in range(1, args.requests + 1):
                    for phase, seconds in http_predict(client, "A.png", png, "image/png").items():
                        phases[phase].append(seconds)
                    if done % block == 0:
                        p50 = float(np.median(phases["total"][-block:])) * 1000
                        trace.append((done, memory_mib(process.pid)["rss_mib"], p50))
                report["trace"] = trace
                report["http"] = {phase: percentiles(samples) for phase, samples in phases.items()}
                big = [http_predict(client, "photo.jpg", jpeg, "image/jpeg")["total"] for _ in range(50)]
                report["http_big_jpeg"] = {"total": percentiles(big)}

            print(f"gradio_client x {args.client_requests} ...", flush=True)
            from gradio_client import Client, handle_file

            start = time.perf_counter()
            gc_client = Client(base_url, verbose=False, analytics_enabled=False, download_files=tmp)
            report["gradio_client_init_ms"] = (time.perf_counter() - start) * 1000
            report["gradio_client"] = time_calls(
                lambda: gc_client.predict(handle_file(str(example)), api_name="/predict"), args.client_requests
            )
            gc_client.close()
            report["memory"]["after all latency runs"] = memory_mib(process.pid)
        finally:
            stop(process)

        print("in-process figures ...", flush=True)
        report["in_process"] = in_process(bundle, example, jpeg_path, args.requests)
        print("cold-start phases and import times ...", flush=True)
        report["cold_phases"] = cold_start_phases(python, bundle)
        report["importtime"] = import_times(python, bundle)

    print_report(report)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
