"""`dvc repro` on several cores: independent branches of the pipeline run at the same time.

DVC runs one stage at a time, but documents running independent stages from several `dvc repro` processes in one
workspace (https://dvc.org/doc/command-reference/repro#parallel-stage-execution): the repository lock is released
while a stage's command runs, and each process writes its stage's entry into `dvc.lock` under that lock. This module
is the scheduler DVC leaves to the user: it reads the stage graph from DVC's own index, then runs each stage with
`dvc --wait-for-lock repro --single-item <stage>` once all its upstream stages have succeeded, up to `jobs` at a time,
the stages with the most downstream work first. A stage whose output another process holds for a moment
("is busy") is retried.

Most stages are a Python process importing TensorFlow, Evidently or Gradio on one core; two at a time keep both
cores of a small machine busy.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from dvc.repo import Repo

BUSY_MARKERS = ("is busy, it is being blocked by", "Unable to acquire lock")
BUSY_RETRIES = 20
BUSY_WAIT_S = 2.0
POLL_S = 0.2


@dataclass
class StageGraph:
    """Stage names, in DVC's order, and the upstream stages of each."""

    order: list[str]
    upstream: dict[str, set[str]] = field(default_factory=dict)

    def downstream_count(self) -> dict[str, int]:
        """How many stages depend on each stage, directly or not (the work waiting behind it)."""
        below: dict[str, set[str]] = {name: set() for name in self.order}
        for name in reversed(self.order):  # DVC's order is topological: a stage's dependents are counted before it
            for parent in self.upstream[name]:
                below[parent] |= {name} | below[name]
        return {name: len(stages) for name, stages in below.items()}

    def with_dependents(self, changed: set[str]) -> set[str]:
        """The stages of this graph among `changed`, and every stage downstream of them (their inputs will change)."""
        found = {name for name in self.order if name in changed}
        for name in self.order:  # upstream first: a stage's upstream stages are decided before it
            if self.upstream[name] & found:
                found.add(name)
        return found


def stage_graph(repo: Repo, targets: Iterable[str] = ()) -> StageGraph:
    """The pipeline stages that `targets` need (all stages when empty), with their upstream stages, from DVC's index.
    `.dvc` files (data sources) are left out: `dvc repro` verifies them before this runs anything."""
    import networkx as nx

    graph = repo.index.graph  # edges point from a stage to the stages it depends on
    wanted = list(targets)
    if wanted:
        chosen = [stage for stage in graph.nodes if stage.addressing in wanted]
        missing = set(wanted) - {stage.addressing for stage in chosen}
        if missing:
            raise KeyError(f"no such stage in dvc.yaml: {', '.join(sorted(missing))}")
        nodes = set(chosen).union(*(nx.descendants(graph, stage) for stage in chosen))
    else:
        nodes = set(graph.nodes)
    pipeline = [stage for stage in nodes if not stage.is_data_source]
    ordered = list(reversed(list(nx.topological_sort(graph.subgraph(pipeline)))))  # upstream first
    return StageGraph(
        order=[stage.addressing for stage in ordered],
        upstream={
            stage.addressing: {parent.addressing for parent in graph.successors(stage) if parent in pipeline}
            for stage in ordered
        },
    )


def verify_data_sources(sources: list[str]) -> None:
    """What `dvc repro` does first: check the data sources (`.dvc` files) against the workspace, once.

    Raises:
        RuntimeError: they do not match (DVC's message is above).
    """
    command = [sys.executable, "-m", "dvc", "--wait-for-lock", "repro", "--quiet", "--single-item", *sources]
    if sources and subprocess.run(command, check=False, env=pipeline_env()).returncode != 0:
        raise RuntimeError(f"dvc repro {' '.join(sources)} failed (see its output above)")


def pipeline_env() -> dict[str, str]:
    """The environment for DVC's stage commands: they call `spacesuite`, so this environment's scripts come first."""
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}


@dataclass
class _Running:
    name: str
    process: subprocess.Popen[bytes]
    output: IO[bytes]  # a temporary file: a pipe would block a stage that prints more than its buffer holds
    tries: int
    started: float = field(default_factory=time.monotonic)

    @classmethod
    def start(cls, stage: str, tries: int = 1) -> _Running:
        output = tempfile.TemporaryFile()  # noqa: SIM115 (closed in `text`, when the stage has ended)
        command = [sys.executable, "-m", "dvc", "--wait-for-lock", "repro", "--single-item", stage]
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=pipeline_env())
        return cls(stage, process, output, tries)

    def text(self) -> str:
        self.output.seek(0)
        text = self.output.read().decode("utf-8", errors="replace")
        self.output.close()
        return text


def repro(targets: Iterable[str] = (), *, jobs: int = 2, say: Callable[[str], None] = print) -> None:
    """Reproduce `targets` (every stage when empty) and their upstream stages, up to `jobs` stages at a time; each
    stage's output is printed by `say` when it ends. After a failure no new stage starts.

    Raises:
        RuntimeError: a stage failed (its output was printed), naming it.
    """
    from dvc.repo import Repo

    with Repo() as repo:  # one index and one `dvc status` for the whole run: a process per up-to-date stage would
        # cost a start-up each
        sources = [stage.addressing for stage in repo.index.stages if stage.is_data_source]
        graph = stage_graph(repo, targets)
        changed = set(repo.status())
    verify_data_sources(sources)
    stale = graph.with_dependents(changed)
    if not stale:
        say("Data and pipelines are up to date.")
        return
    weight = graph.downstream_count()
    rank = {name: index for index, name in enumerate(graph.order)}
    waiting = sorted(stale, key=lambda name: (-weight[name], rank[name]))
    done: set[str] = set(graph.order) - stale
    running: list[_Running] = []
    failed: list[str] = []
    while waiting or running:
        while not failed and len(running) < max(jobs, 1):
            ready = next((name for name in waiting if graph.upstream[name] <= done), None)
            if ready is None:
                break
            waiting.remove(ready)
            running.append(_Running.start(ready))
        if not running:
            break  # a failure left the rest waiting
        time.sleep(POLL_S)
        for item in list(running):
            code = item.process.poll()
            if code is None:
                continue
            output = item.text()
            running.remove(item)
            if code != 0 and any(marker in output for marker in BUSY_MARKERS) and item.tries < BUSY_RETRIES:
                time.sleep(BUSY_WAIT_S)
                running.append(_Running.start(item.name, item.tries + 1))
                continue
            say(output.rstrip("\n"))
            if code == 0:
                done.add(item.name)
            else:
                failed.append(item.name)
            finished = len(done & stale) + len(failed)
            outcome = "done" if code == 0 else "FAILED"
            say(f"[{finished}/{len(stale)}] {item.name} {outcome} in {time.monotonic() - item.started:.0f} s")
    if failed:
        raise RuntimeError(f"dvc repro failed at {', '.join(failed)} (see its output above)")
