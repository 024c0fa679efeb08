"""Debian's real Prometheus binaries for tests: `promtool`, the `prometheus` server and the Pushgateway, each started
on a free 127.0.0.1 port with its storage in a temporary folder, and stopped after.

`scripts/bootstrap.sh --test` installs them (Debian packages `prometheus` and `prometheus-pushgateway`). Without
them a test is skipped on a developer's machine and fails in CI, as the browser tests do without chromium.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import free_port

READY_S = 60


def binary(*names: str) -> str:
    """The path of the first of `names` on PATH; skip the test without it (fail in CI)."""
    for name in names:
        if found := shutil.which(name):
            return found
    message = f"{names[0]} is not installed: scripts/bootstrap.sh --test installs it (apt-get install prometheus)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def promtool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """Run `promtool` with `args`, its output captured as text."""
    command = [binary("promtool"), *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    """Wait until `url` answers 200 (bounded), failing with the process's log if it exits or never gets there."""
    deadline = time.monotonic() + READY_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{process.args[0]} exited ({process.returncode}):\n{log.read_text()[-3000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    pytest.fail(f"{url} was not ready after {READY_S} s:\n{log.read_text()[-3000:]}")


@contextlib.contextmanager
def started(command: list[str], ready_url: str, log: Path) -> Iterator[None]:
    """Run `command` (its output to `log`) until the block ends; yield once `ready_url` answers."""
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_ready(ready_url, process, log)
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def pushgateway(folder: Path) -> Iterator[str]:
    """Debian's Pushgateway on a free port, keeping what is pushed in `folder`; yields its base URL."""
    url = f"http://127.0.0.1:{free_port()}"
    command = [
        binary("prometheus-pushgateway", "pushgateway"),
        f"--web.listen-address={url.removeprefix('http://')}",
        # Debian's build persists to /var/lib/prometheus by default: a test keeps its pushes to itself
        f"--persistence.file={folder / 'pushgateway.data'}",
    ]
    with started(command, f"{url}/-/ready", folder / "pushgateway.log"):
        yield url


@contextlib.contextmanager
def prometheus(config: Path, folder: Path) -> Iterator[str]:
    """Debian's Prometheus server with `config`, its storage under `folder`, on a free port; yields its base URL."""
    url = f"http://127.0.0.1:{free_port()}"
    command = [
        binary("prometheus"),
        f"--config.file={config}",
        f"--storage.tsdb.path={folder / 'data'}",
        f"--web.listen-address={url.removeprefix('http://')}",
    ]
    with started(command, f"{url}/-/ready", folder / "prometheus.log"):
        yield url


def query(url: str, expr: str) -> list[dict[str, Any]]:
    """The result of an instant query (`/api/v1/query`); fails the test on an error answer."""
    response = httpx.get(f"{url}/api/v1/query", params={"query": expr}, timeout=10)
    body = response.json()
    assert response.status_code == 200 and body["status"] == "success", f"{expr}: {body}"
    return body["data"]["result"]


def pushed(url: str, job: str) -> dict[str, float]:
    """What the Pushgateway at `url` exports now for the pushed `job`, by metric name."""
    from prometheus_client.parser import text_string_to_metric_families

    text = httpx.get(f"{url}/metrics", timeout=10).text
    families = text_string_to_metric_families(text)
    return {
        sample.name: sample.value for family in families for sample in family.samples if sample.labels.get("job") == job
    }
