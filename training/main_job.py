"""The main job's pipeline run (`spacesuite up`): the stages the Spaces need first (independent ones at the same
time, `training.parallel_repro`), then the rest of the pipeline (the statistics reports, the drift job, the TF.js
exports no Space serves, TF Serving's config) in the background while the Spaces serve.

A first run thus serves minutes earlier; `dvc repro` still runs every stage, and its lock keeps the two runs from
overlapping.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from training.parallel_repro import pipeline_env
from training.paths import BUILD_DIR, DIST_DIR

REST_LOG = BUILD_DIR / "up-repro.log"  # the background run's output: the terminal belongs to the server
STOP_WAIT_S = 60  # how long stopping the server waits for the background run to stop after Ctrl+C


def space_stages() -> list[str]:
    """The names of the stages that write a Space's bundle (an output under `dist/spaces`), as `dvc repro` takes
    them; `training.parallel_repro.repro` adds their upstream stages."""
    from dvc.repo import Repo

    with Repo() as repo:
        return [
            stage.addressing
            for stage in repo.index.stages
            if any(Path(out.def_path).is_relative_to(DIST_DIR) for out in stage.outs)
        ]


class RestOfPipeline:
    """`dvc repro` of every stage, in the background, its output in `REST_LOG`; `say` hears how it ended."""

    def __init__(self, say: Callable[[str], None]) -> None:
        REST_LOG.parent.mkdir(parents=True, exist_ok=True)
        self._log = REST_LOG.open("w", encoding="utf-8")
        self._process = subprocess.Popen(
            [sys.executable, "-m", "dvc", "repro"],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=pipeline_env(),
            start_new_session=True,  # Ctrl+C stops the server; `stop` then stops this run cleanly
        )
        self._say = say
        threading.Thread(target=self._report, name="rest-of-pipeline", daemon=True).start()

    def _report(self) -> None:
        code = self._process.wait()
        if code == 0:
            self._say(f"The rest of the pipeline is done (statistics, drift job, exports; log: {REST_LOG}).")
        elif code > 0:
            self._say(f"The rest of the pipeline failed (exit {code}): see {REST_LOG}; the Spaces keep serving.")

    def stop(self) -> None:
        """Interrupt the run if it is still going (DVC then records what finished) and wait for it."""
        if self._process.poll() is None:
            self._say("Stopping the rest of the pipeline (`dvc repro` picks it up next time) ...")
            self._process.send_signal(signal.SIGINT)
            try:
                self._process.wait(timeout=STOP_WAIT_S)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._log.close()
