"""`spacesuite up`, the README's main job: the Spaces serve as soon as their bundles exist, while the rest of the
pipeline runs in the background; Ctrl+C stops both."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from conftest import BIN, free_port

START_S = 240  # the Space stages are up to date in the copy: this is the server's start-up, with room for a busy CI


def _wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def up_in(repo: Path) -> None:
    """`spacesuite up` in a copy of the tiny repo where a stage no Space needs is missing: every check is here (it
    runs in the background, `tiny_repo_copy_job` re-raises its failure)."""
    shutil.rmtree(repo / "build" / "drift" / "gender")  # a stage no Space needs: the background run must redo it
    (repo / "metrics" / "drift" / "gender.json").unlink()
    port = free_port()
    stderr = repo.parent / "up.stderr"
    with stderr.open("w") as sink:
        up = subprocess.Popen(
            [str(BIN / "spacesuite"), "up", "--port", str(port)],
            cwd=repo,
            stdout=subprocess.DEVNULL,
            stderr=sink,
            env={**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "DVC_NO_ANALYTICS": "1"},
        )
    try:
        _wait_for(lambda: _answers(f"http://127.0.0.1:{port}/gender/"), START_S, "the gender Space")
        assert "The Spaces are ready; the rest of the pipeline runs in the background" in stderr.read_text()
        _wait_for(lambda: "The rest of the pipeline is done" in stderr.read_text(), 300, "the background dvc repro")
        assert (repo / "metrics" / "drift" / "gender.json").is_file()
        background = (repo / "build" / "up-repro.log").read_text()
        assert "'drift@gender'" in background and "Stage 'drift@gender' didn't change" not in background  # ran or
        # came back from DVC's run cache
        assert _answers(f"http://127.0.0.1:{port}/gender/")  # served throughout
    finally:
        up.send_signal(signal.SIGINT)
        code = up.wait(timeout=60)
    assert code in (0, 130, -signal.SIGINT), stderr.read_text()[-3000:]


@pytest.mark.slow
@pytest.mark.on_tiny_repo_copy.with_args(up_in)
def test_up_serves_the_spaces_and_runs_the_rest_of_the_pipeline_behind_them(tiny_repo_copy_job: None) -> None:
    assert tiny_repo_copy_job is None  # the job's own checks passed
