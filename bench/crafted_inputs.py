"""Crafted inputs, made as an attacker would make them, against running Spaces: small requests that would cost a
server seconds of CPU or a gigabyte of memory, strings that break encoders, and 1,000 stalled connections.

The corpus (`cases()`) is shared with `tests/test_budgets.py`, which checks each case gets its status and message.
This script measures, for each Space that serves the targets (``python app.py``, as on the Hub, on 127.0.0.1):

- each case sent once, in turn (then the within-limits images 4 at once): status, CPU seconds the server spent on
  it, and peak RSS growth over the whole corpus (VmHWM after minus RSS before);
- meanwhile a prober sends a good request every 50 ms: the slowest answer while the corpus ran;
- 1,000 stalled connections (silent, half headers, half body): a good request's latency while they are open, and
  how long until the server has dropped them all.

Targets (issue 14): peak RSS growth ≤ 150 MiB, no request over 0.5 s CPU, 0 responses 5xx, the good request
within 100 ms throughout; with 1,000 stalled connections a good request within 100 ms, stalled ones dropped ≤ 10 s.

Run from the repository root after the pipeline (``--shared shared`` serves this checkout's code)::

    .venv/bin/python bench/crafted_inputs.py --shared shared
"""

from __future__ import annotations

import argparse
import base64
import json
import resource
import select
import socket
import struct
import sys
import tempfile
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Case:
    """One crafted request: `target` is a model (REST :predict) or `upload` (the page's upload route)."""

    name: str
    target: str
    body: bytes
    status: int
    message: str  # a phrase of the answer (case-insensitive)
    headers: dict[str, str] = field(default_factory=dict)


def png(width: int, height: int, row: bytes, *, bit_depth: int = 8, color_type: int = 0) -> bytes:
    """A PNG of `height` copies of one raw row (filter byte included), compressed while it is made (never held)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    compressor = zlib.compressobj(9)
    block = row * 256
    parts = [compressor.compress(block) for _ in range(height // 256)]
    parts += [compressor.compress(row * (height % 256)), compressor.flush()]
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", b"".join(parts)) + chunk(b"IEND", b"")


def gray16(width: int, height: int) -> bytes:
    """A 16-bit gray PNG, a gradient across each row (not flat)."""
    values = [(65535 * x) // max(1, width - 1) for x in range(width)]
    return png(width, height, b"\0" + struct.pack(f">{width}H", *values), bit_depth=16)


def bright(width: int, height: int) -> bytes:
    """An 8-bit gray PNG, white all over but for a gray band (a bright drawing)."""
    row = bytearray(b"\xff" * width)
    row[width // 3 : width // 3 + max(1, width // 50)] = b"\x80" * max(1, width // 50)
    return png(width, height, b"\0" + bytes(row))


def rgba(width: int, height: int) -> bytes:
    """An 8-bit RGBA PNG, half transparent."""
    pixel = bytes([200, 30, 30, 128])
    return png(
        width, height, b"\0" + pixel * (width // 2) + bytes([30, 30, 200, 255]) * (width - width // 2), color_type=6
    )


def b64(data: bytes) -> dict[str, str]:
    """TF Serving's binary form of an instance."""
    return {"b64": base64.b64encode(data).decode("ascii")}


def instances(*values: object) -> bytes:
    """A :predict body with these instances."""
    return json.dumps({"instances": list(values)}).encode("utf-8")


HOUSING = [4.416, 26, 4.783, 1.14, 752, 2.507, 36.5, -117.8]


def cases() -> list[Case]:
    """The crafted corpus: every case of issue 14, plus its neighbours (just under a limit, many at once)."""
    huge16 = gray16(6300, 6300)  # ~90 KB; 39.7 MP of 16-bit gray (a gigabyte through float64, before)
    huge_bright = bright(6300, 6300)  # ~50 KB
    big = bright(2000, 2000)  # 4 MP: allowed alone, 64 of them are not
    zeros = b'{"inputs": {"pixels": [' + b"0," * 4_900_000 + b"0]}}"  # 9.8 MB
    columns = json.dumps({"inputs": {f"f{i}": [0] * 100_000 for i in range(8)}}).encode()
    return [
        Case("16-bit gray 6300² PNG", "sign-language", instances(b64(huge16)), 400, "too large"),
        Case("bright 6300² PNG to digits", "digits", instances(b64(huge_bright)), 400, "too large"),
        Case("64 × 4 MP PNG in one request", "sign-language", instances(*[b64(big)] * 64), 400, "too large together"),
        Case("columnar 9.8 MB of zeros", "sign-language", zeros, 400, "too many JSON values"),
        Case("columnar 8 × 100,000 rows", "housing", columns, 400, "too many instances"),
        Case("lone surrogate in text", "emotion", b'{"instances": ["i feel \\ud800 sad"]}', 400, "surrogate"),
        Case("lone surrogate in a feature key", "housing", b'{"instances": [{"\\udfff": 1}]}', 400, "surrogate"),
        Case("400-digit integer feature", "housing", instances([10**400, *HOUSING[1:]]), 400, "Median income"),
        Case("400-digit integer pixel", "sign-language", b'{"instances": [[' + b"9" * 400 + b"]]}", 400, "pixels"),
        Case("5,000-digit integer", "housing", b'{"instances": [[' + b"9" * 5000 + b"]]}", 400, "number too long"),
        Case("text of 9 MB", "emotion", instances("a" * 9_000_000), 400, "too long"),
        Case("text NFKC lengthens 18×", "emotion", instances("\ufdfa" * 1_000), 400, "once normalized"),
        Case(
            "JSON nested 100,000 deep",
            "housing",
            b'{"instances": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
            400,
            "JSON",
        ),
        Case("ANSI escape and U+2028 in a key", "housing", instances({"\x1b[2J\u2028x": 1}), 400, "Unknown feature"),
        Case("body over 10 MB", "housing", b"[" * (10 * 2**20 + 1), 413, "too large"),
        Case("16-bit 4000² PNG (within limits)", "sign-language", instances(b64(gray16(4000, 4000))), 200, ""),
        Case("RGBA 4000² PNG (within limits)", "sign-language", instances(b64(rgba(4000, 4000))), 200, ""),
        Case("bright 4000² PNG to digits (within limits)", "digits", instances(b64(bright(4000, 4000))), 200, ""),
        Case("page upload: 9000² PNG", "upload", bright(9000, 9000), 415, "too large"),
        Case("page upload: not an image", "upload", b"MZ\x90\x00" + b"\0" * 4096, 415, "not an image"),
        Case("page upload: 11 MB", "upload", b"\0" * (11 * 2**20), 413, "too large"),
    ]


def multipart(data: bytes, filename: str = "drawing.png") -> tuple[bytes, str]:
    """A multipart form with one file under `files` (Gradio's upload route): the body and its content type."""
    boundary = "spacesuite-crafted-boundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{filename}"\r\n'
        "Content-Type: image/png\r\n\r\n"
    ).encode()
    return head + data + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


# --- the benchmark --------------------------------------------------------------------------------------------

SPACES = {
    "sign-language": ("sign-language", "upload"),
    "keras-basics": ("digits", "housing", "upload"),
    "emotion": ("emotion",),
}


def good_request(space: Path) -> tuple[str, bytes]:
    """A request the Space answers with 200 (its first example): the :predict path and body."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from rest_throughput import instances as examples

    model, instance = next(iter(examples(space).items()))
    return f"/v1/models/{model}:predict", json.dumps({"instances": [instance]}).encode()


def peak_rss_mib(pid: int) -> tuple[float, float]:
    """The RSS now and its high-water mark (VmHWM) of a process, in MiB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def cpu_seconds(pid: int) -> float:
    """User and system CPU seconds a process has used."""
    import psutil

    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def probe(base: str, path: str, body: bytes, stop: Any, results: Any) -> None:
    """Send a good request every 50 ms until `stop` is set; put (latencies, failures) on `results`. Runs in its own
    process, so that the corpus being sent (big bodies made and written) never delays a probe on the client side."""
    import httpx

    latencies, failures = [], 0
    with httpx.Client(base_url=base, timeout=30) as http:
        while not stop.wait(0.05):
            start = time.perf_counter()
            try:
                ok = http.post(path, content=body).status_code == 200
            except httpx.HTTPError:
                ok = False
            latencies.append((time.time(), time.perf_counter() - start))
            failures += not ok
    results.put((latencies, failures))


def send(base: str, case: Case) -> int:
    """Send one case; its status."""
    import httpx

    if case.target == "upload":
        body, content_type = multipart(case.body)
        return httpx.post(
            f"{base}/gradio_api/upload", content=body, headers={"content-type": content_type}, timeout=60
        ).status_code
    return httpx.post(f"{base}/v1/models/{case.target}:predict", content=case.body, timeout=60).status_code


def run_corpus(base: str, pid: int, corpus: list[Case], good: tuple[str, bytes]) -> dict[str, Any]:
    """Every case in turn, then the within-limits ones 4 at once, with the prober running."""
    import multiprocessing
    from concurrent.futures import ThreadPoolExecutor

    rss_before, _ = peak_rss_mib(pid)
    spans: list[tuple[float, float, str]] = []
    context = multiprocessing.get_context("fork")
    stop, results = context.Event(), context.Queue()
    prober = context.Process(target=probe, args=(base, *good, stop, results), daemon=True)
    prober.start()
    time.sleep(0.5)  # the prober's first requests, before the corpus
    rows = []
    for case in corpus:
        cpu = cpu_seconds(pid)
        start, began = time.perf_counter(), time.time()
        status = send(base, case)
        spans.append((began, time.time(), case.name))
        rows.append(
            {
                "case": case.name,
                "status": status,
                "expected": case.status,
                "cpu_s": cpu_seconds(pid) - cpu,
                "wall_s": time.perf_counter() - start,
            }
        )
    heavy = [case for case in corpus if case.status == 200] * 4
    if heavy:
        cpu, start = cpu_seconds(pid), time.perf_counter()
        with ThreadPoolExecutor(len(heavy)) as pool:
            statuses = list(pool.map(lambda case: send(base, case), heavy))
        row = {"case": f"{len(heavy)} within-limits images at once (CPU: mean)", "status": max(statuses)}
        cpu_mean = (cpu_seconds(pid) - cpu) / len(heavy)
        rows.append({**row, "expected": 200, "cpu_s": cpu_mean, "wall_s": time.perf_counter() - start})
    stop.set()
    probes, failures = results.get(timeout=60)
    prober.join()
    latencies = [latency for _, latency in probes]
    slow = sorted(
        {
            name
            for end, latency in probes
            if latency > 0.1
            for t0, t1, name in spans
            if t0 <= end and end - latency <= t1
        }
    )
    rss_after, peak = peak_rss_mib(pid)
    return {
        "cases": rows,
        "rss_before_mib": rss_before,
        "rss_after_mib": rss_after,
        "peak_growth_mib": peak - rss_before,
        "probe_max_ms": 1000 * max(latencies, default=0.0),
        "probe_p99_ms": 1000 * float(np.percentile(latencies, 99)) if latencies else 0.0,
        "probe_failures": failures,
        "probes": len(latencies),
        "slow_probes_during": slow,
    }


def stalled_connections(base: str, good: tuple[str, bytes], count: int) -> dict[str, Any]:
    """Open `count` stalled connections; time a good request meanwhile, and how long until all are dropped."""
    import httpx

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, count + 256)), hard))
    host, port = base.removeprefix("http://").split(":")
    openings = [
        b"",
        b"POST /v1/models/x:predict HTTP/1.1\r\nHost: x\r\n",
        b'POST /v1/models/x:predict HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n{"instances": [',
    ]
    sockets = []
    start = time.monotonic()
    for n in range(count):
        sock = socket.create_connection((host, int(port)))
        sock.sendall(openings[n % len(openings)])
        sockets.append(sock)
    opened = time.monotonic() - start
    latencies = []
    with httpx.Client(base_url=base, timeout=30) as http:
        for _ in range(10):
            began = time.perf_counter()
            status = http.post(good[0], content=good[1]).status_code
            latencies.append((time.perf_counter() - began, status))
            time.sleep(0.05)
    pending = {sock.fileno(): sock for sock in sockets}
    last_drop = 0.0
    deadline = time.monotonic() + 30
    while pending and time.monotonic() < deadline:
        ready, _, _ = select.select(list(pending), [], [], 0.5)
        for fd in ready:
            try:
                data = pending[fd].recv(4096)
            except OSError:
                data = b""
            if not data:
                pending.pop(fd).close()
                last_drop = time.monotonic() - start
    for sock in pending.values():
        sock.close()
    return {
        "connections": count,
        "open_s": opened,
        "good_max_ms": 1000 * max(t for t, _ in latencies),
        "good_statuses": sorted({s for _, s in latencies}),
        "all_dropped_after_s": last_drop,
        "still_open_after_30_s": len(pending),
    }


def main(argv: list[str] | None = None) -> None:
    """Parse options, run the corpus against each Space, print a table per Space and a verdict."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from rest_throughput import DIST, bundle_copy
    from space_latency import HOST, free_port, spawn_space, stop, wait_port

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", type=Path, default=Path(sys.executable), help="Python that runs the Spaces")
    parser.add_argument("--dist", type=Path, default=DIST, help="folder of bundled Spaces (default: dist/spaces)")
    parser.add_argument("--shared", type=Path, help="serve with this shared/ package instead of the bundle's own")
    parser.add_argument("--space", action="append", choices=sorted(SPACES), help="default: all three")
    parser.add_argument("--stalled", type=int, default=1000, help="stalled connections (0: skip)")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args(argv)
    corpus = cases()
    report: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-crafted-") as tmp:
        for name in args.space or sorted(SPACES):
            bundle = bundle_copy(args.dist / name, args.shared.resolve() if args.shared else None, Path(tmp))
            port = free_port()
            process = spawn_space(args.python, bundle, port, Path(tmp) / "log")
            try:
                wait_port(port, process)
                base = f"http://{HOST}:{port}"
                good = good_request(bundle)
                import httpx

                for _ in range(20):
                    httpx.post(base + good[0], content=good[1], timeout=30).raise_for_status()
                mine = [case for case in corpus if case.target in SPACES[name]]
                report[name] = run_corpus(base, process.pid, mine, good)
                if args.stalled:
                    report[name]["stalled"] = stalled_connections(base, good, args.stalled)
            finally:
                stop(process)
    failed = []
    for name, figures in report.items():
        print(f"\n{name}: {'case':<40}{'status':>8}{'CPU s':>8}{'wall s':>8}")
        for row in figures["cases"]:
            mark = "" if row["status"] == row["expected"] else f"  (expected {row['expected']})"
            print(
                f"{'':<{len(name) + 2}}{row['case']:<40}{row['status']:>8}{row['cpu_s']:>8.3f}"
                f"{row['wall_s']:>8.3f}{mark}"
            )
        print(
            f"  peak RSS growth {figures['peak_growth_mib']:.0f} MiB (RSS {figures['rss_before_mib']:.0f} → "
            f"{figures['rss_after_mib']:.0f} MiB); good request every 50 ms: p99 {figures['probe_p99_ms']:.0f} ms, "
            "slowest "
            f"{figures['probe_max_ms']:.0f} ms "
            f"of {figures['probes']}, {figures['probe_failures']} failed"
        )
        if figures["slow_probes_during"]:
            print(f"  probes over 100 ms during: {', '.join(figures['slow_probes_during'])}")
        stalled = figures.get("stalled")
        if stalled:
            print(
                f"  {stalled['connections']} stalled connections: good request slowest {stalled['good_max_ms']:.0f} ms "
                f"(statuses {stalled['good_statuses']}), all dropped after {stalled['all_dropped_after_s']:.1f} s, "
                f"{stalled['still_open_after_30_s']} still open after 30 s"
            )
        worst_cpu = max(row["cpu_s"] for row in figures["cases"])
        checks = {
            "peak RSS growth ≤ 150 MiB": figures["peak_growth_mib"] <= 150,
            "no request over 0.5 s CPU": worst_cpu <= 0.5,
            "0 responses 5xx": all(row["status"] < 500 for row in figures["cases"]),
            "every case its expected status": all(row["status"] == row["expected"] for row in figures["cases"]),
            "good request within 100 ms throughout": figures["probe_max_ms"] <= 100 and not figures["probe_failures"],
        }
        if stalled:
            checks["stalled: good request within 100 ms"] = stalled["good_max_ms"] <= 100 and stalled[
                "good_statuses"
            ] == [200]
            checks["stalled: all dropped within 10 s"] = (
                not stalled["still_open_after_30_s"] and stalled["all_dropped_after_s"] <= 10
            )
        for check, ok in checks.items():
            print(f"  {'ok  ' if ok else 'MISS'} {check}")
            if not ok:
                failed.append(f"{name}: {check}")
    print(f"(python: {args.python}; shared: {args.shared or 'the bundle copy'})")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2))
    print("all targets met" if not failed else f"{len(failed)} target(s) missed")


if __name__ == "__main__":
    main()
