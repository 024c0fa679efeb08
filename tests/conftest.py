"""Shared fixtures: a real pipeline run on tiny params in a temporary copy of the repo, and free ports."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml
from gradio_client import Client

# No telemetry from gradio, DVC or dvclive while testing: no traffic leaves 127.0.0.1.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("DVC_NO_ANALYTICS", "1")
# Spaces started by tests (in this process or as subprocesses) log their traffic here, not into the checkout.
os.environ.setdefault("SPACESUITE_TRAFFIC_DIR", tempfile.mkdtemp(prefix="spacesuite-traffic-"))

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
REAL_DATASETS = REPO.parent / "shared" / "datasets"  # offline copies of the real datasets, where this machine has them
COPY_JOB_MARK = "on_tiny_repo_copy"
COPY_JOB_NICENESS = 5  # below the tests (0), above the real-data training (10)
DRIFT_TINY = {"reference_rows": 400, "synthetic_rows": 400, "seeds": 2, "min_traffic_rows": 100}


def tiny_params() -> dict:
    """Params overrides for the tests' pipeline: every demo's own tiny params (training/demos/), on the sample."""
    from training.demos import demos

    params: dict = {"drift": dict(DRIFT_TINY)}
    for demo in demos():
        # the tests' pipeline learns from the generated sample, whatever the committed params train on
        params[demo.section] = deep_update(deep_update({}, demo.tiny), {"data": {"source": "sample"}})
        # tiny models are checked against their own floor (test_floors.py), not the real thresholds
        # ... and not against the committed metrics of the default run (a bigger model on more data)
        params[demo.section]["bless"] = {"min_accuracy": 0.0, "min_f1_macro": 0.0, "max_rmse": None, "baseline": None}
    return params


def run(
    command: list[str], cwd: Path, *, env_extra: dict[str, str] | None = None, **kwargs
) -> subprocess.CompletedProcess[str]:
    """Run a command with the test environment's tools first on PATH (and `env_extra`); capture its output as text."""
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "SPACESUITE_TFJS_PYTHON": str(REPO / ".venv-tfjs" / "bin" / "python"),
        "DVC_NO_ANALYTICS": "1",
        "GIT_AUTHOR_NAME": "test",
        "GIT_AUTHOR_EMAIL": "test@example.invalid",
        "GIT_COMMITTER_NAME": "test",
        "GIT_COMMITTER_EMAIL": "test@example.invalid",
        **(env_extra or {}),
    }
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False, **kwargs)


def deep_update(base: dict, changes: dict) -> dict:
    """Recursively merge `changes` into `base` (in place) and return it."""
    for key, value in changes.items():
        if isinstance(value, dict):
            deep_update(base.setdefault(key, {}), value)
        else:
            base[key] = value
    return base


def copy_repo(target: Path) -> Path:
    """Copy the repo's tracked and untracked-but-not-ignored files into `target` and commit them in a new git repo."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO, capture_output=True, check=True,
    ).stdout.decode().split("\0")  # fmt: skip
    for name in filter(None, listed):
        source = REPO / name
        if source.is_file():
            destination = target / name
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination)
    for npm_manifest in REPO.glob("spaces/*/package.json"):  # what npm ci put there for a static Space's page
        for origin in json.loads(npm_manifest.read_text(encoding="utf-8")).get("vendor", {}).values():
            source = npm_manifest.parent / origin
            destination = target / source.relative_to(REPO)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination)
    return target


def git_commit_all(folder: Path, message: str) -> None:
    """`git add -A && git commit` in `folder` (initialising the repo if needed)."""
    if not (folder / ".git").exists():
        run(["git", "init", "-q", "-b", "main"], folder)
    run(["git", "add", "-A"], folder)
    result = run(["git", "commit", "-q", "-m", message], folder)
    assert result.returncode == 0, result.stderr


def build_tiny_repo(folder: Path) -> Path:
    """Copy the repo into `folder`, give it tiny params and the sample data, and run `dvc repro` there for real."""
    copy_repo(folder)
    params_file = folder / "params.yaml"
    params = deep_update(yaml.safe_load(params_file.read_text()), tiny_params())
    params_file.write_text(yaml.safe_dump(params, sort_keys=False))
    sample = run(["spacesuite", "data", "sample"], folder)
    assert sample.returncode == 0, sample.stderr
    git_commit_all(folder, "tiny params")
    repro = run(["spacesuite", "repro", "--jobs", "2"], folder, timeout=2400)  # `dvc repro`, two stages at once
    assert repro.returncode == 0, f"dvc repro failed:\n{repro.stdout[-4000:]}\n{repro.stderr[-4000:]}"
    (folder / "repro.log").write_text(repro.stdout + repro.stderr)
    return folder


class BackgroundJob(threading.Thread):
    """A long job (the tiny pipeline's build, the real-data training) in a background thread, started with the first
    test: its subprocesses run while the tests that do not need it run (most stages are one busy core each; the
    machine has two). `niceness` > 0 lowers the priority of the job and of every process it starts, so that it takes
    only the CPU the other tests leave idle."""

    def __init__(self, name: str, job: Callable[[], Any], niceness: int = 0) -> None:
        super().__init__(name=name, daemon=True)
        self.job, self.niceness = job, niceness
        self.value: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        """Run the job; keep its value, or its error for the tests that wait for it."""
        try:
            if self.niceness:
                _lower_priority(self.niceness)
            self.value = self.job()
        except BaseException as error:  # re-raised in the waiting test's thread
            self.error = error

    def result(self) -> Any:
        """Wait for the job; its value, or its error."""
        self.join()
        if self.error is not None:
            raise self.error
        return self.value


def _needs_tiny_repo(item: pytest.Item) -> bool:
    return "tiny_repo" in getattr(item, "fixturenames", ())


def _needs_real_data(item: pytest.Item) -> bool:
    return "real_data_reports" in getattr(item, "fixturenames", ())


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that need the tiny pipeline run after the others, those with a job on a copy of it after them, and those
    that need the real-data training last, so that all of it can run in the background meanwhile (stable order)."""
    items.sort(
        key=lambda item: (
            _needs_real_data(item),
            _needs_tiny_repo(item),
            item.get_closest_marker(COPY_JOB_MARK) is not None,
        )
    )


class TinyRepoBuild(BackgroundJob):
    """The tiny pipeline's build, then the selected tests' `on_tiny_repo_copy` jobs: each gets its own copy of the
    built repo, made before any test can change it, and they run one after another in one background thread (at
    `COPY_JOB_NICENESS`), in the order of their tests, while the other tests that need the repo run on the other core
    (all at once, they starved those tests). `jobs` holds their futures by job (tests may share one)."""

    def __init__(self, build: Callable[[], Path], copy_jobs: list[Callable[[Path], Any]], scratch: Callable[[], Path]):
        super().__init__("tiny-repo-build", self._build_and_start)
        self.build, self.copy_jobs, self.scratch = build, copy_jobs, scratch
        self.runner = ThreadPoolExecutor(1, "copy-jobs", initializer=_lower_priority, initargs=(COPY_JOB_NICENESS,))
        self.jobs: dict[Callable[[Path], Any], Future] = {}

    def _build_and_start(self) -> Path:
        repo = self.build()
        for job in self.copy_jobs:
            copy = self.scratch() / "repo"
            shutil.copytree(repo, copy, symlinks=True, ignore=shutil.ignore_patterns("repro.log"))
            self.jobs[job] = self.runner.submit(job, copy)
        self.runner.shutdown(wait=False)  # no more jobs; the thread ends after the last
        return repo


def _lower_priority(niceness: int) -> None:
    """Lower this thread's priority, and that of every process it starts (Linux: a thread's nice value is its own)."""
    os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), niceness)


@pytest.fixture(scope="session", autouse=True)
def _tiny_repo_build(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> TinyRepoBuild | None:
    """Start building the tiny pipeline's repo with the first test when any selected test needs it (or take
    SPACESUITE_TEST_REPO's), then the selected tests' jobs on copies of it."""
    needing = [item for item in request.session.items if _needs_tiny_repo(item)]
    if not needing:
        return None
    marks = [item.get_closest_marker(COPY_JOB_MARK) for item in needing]
    copy_jobs = list(dict.fromkeys(mark.args[0] for mark in marks if mark is not None))
    given = os.environ.get("SPACESUITE_TEST_REPO")
    build = TinyRepoBuild(
        (lambda: Path(given)) if given else (lambda: build_tiny_repo(tmp_path_factory.mktemp("repo"))),
        copy_jobs,
        lambda: tmp_path_factory.mktemp("copy"),
    )
    build.start()
    return build


@pytest.fixture
def tiny_repo_copy_job(request: pytest.FixtureRequest, tiny_repo: Path, _tiny_repo_build: TinyRepoBuild) -> Any:
    """What the test's `@pytest.mark.on_tiny_repo_copy.with_args(job)` returned: `job(copy)` ran in the background
    on the test's own copy of the tiny repo since the repo was built (raising here what it raised). For a test's long
    work that only needs a copy (a tuning search, a second clone, `spacesuite up`): it then overlaps the other tests,
    which run first."""
    mark = request.node.get_closest_marker(COPY_JOB_MARK)
    assert mark is not None, f"{request.node.nodeid}: no {COPY_JOB_MARK} mark"
    return _tiny_repo_build.jobs[mark.args[0]].result()  # re-raises the job's failure


@pytest.fixture(scope="session", autouse=True)
def _real_data_run(request: pytest.FixtureRequest) -> BackgroundJob | None:
    """Start training the demos with a real-data check on their real data (`bench/real_data.py`) with the first test
    when any selected test needs it, at a low priority: the tiny pipeline and the tests before come first."""
    if not REAL_DATASETS.is_dir() or not any(map(_needs_real_data, request.session.items)):
        return None  # without the offline copies the tests that need it are skipped
    sys.path.insert(0, str(REPO / "bench"))
    from real_data import run_many

    def train() -> dict[str, dict]:
        checked = real_checked()
        overrides = [f"{demo.section}.{key}" for demo in checked for key in _flat(dict(demo.real_check.params))]
        return run_many([demo.name for demo in checked], None, overrides, keep=False, evaluate_only=True)  # public

    job = BackgroundJob("real-data-run", train, niceness=10)
    job.start()
    return job


def real_checked() -> list:
    """The demos with a check on their real data (`real_check` in their module)."""
    from training.demos import demos

    return [demo for demo in demos() if demo.real_check is not None]


def _flat(params: dict, prefix: str = "") -> list[str]:
    """`key.path=value` items of nested params (bench/real_data.py's --set)."""
    items = []
    for key, value in params.items():
        items += _flat(value, f"{prefix}{key}.") if isinstance(value, dict) else [f"{prefix}{key}={value}"]
    return items


@pytest.fixture(scope="session")
def real_data_reports(_real_data_run: BackgroundJob | None) -> dict[str, dict]:
    """Every demo with a `real_check` fetched from its public source (offline caches), trained and scored on its real
    data in one copy and one `dvc repro` (started in the background by `_real_data_run`; this waits for it)."""
    assert _real_data_run is not None, "the real-data run starts with the first test that needs it"
    return _real_data_run.result()


@pytest.fixture(scope="session")
def tiny_repo(_tiny_repo_build: TinyRepoBuild | None) -> Path:
    """A copy of the repo with tiny params, sample data written, and `dvc repro` run for real (started in the
    background by `_tiny_repo_build`; this waits for it).

    SPACESUITE_TEST_REPO=<folder of an earlier run> reuses one (while developing a test: the pipeline takes minutes).
    """
    assert _tiny_repo_build is not None, "the tiny repo's build starts with the first test that needs it"
    return _tiny_repo_build.result()


@pytest.fixture(scope="session")
def bundle_dir(tiny_repo: Path) -> Path:
    """The bundled sign-language Space built by the tiny pipeline run."""
    return tiny_repo / "dist" / "spaces" / "sign-language"


@pytest.fixture(scope="session")
def spaces_dir(tiny_repo: Path) -> Path:
    """The folder of every bundled Space built by the tiny pipeline run."""
    return tiny_repo / "dist" / "spaces"


@contextlib.contextmanager
def running_space(bundle: Path) -> Iterator[Client]:
    """Launch a bundled Space in this process on 127.0.0.1 and yield a gradio_client for it; close it after."""
    from shared.suite import load_space

    demo = load_space(bundle)
    _, url, _ = demo.launch(server_name="127.0.0.1", prevent_thread_lock=True, quiet=True)
    try:
        yield Client(url, verbose=False)
    finally:
        demo.close()


@contextlib.contextmanager
def serving(app: Any, *, guarded: bool = False) -> Iterator[str]:
    """Run an ASGI `app` with uvicorn in a thread on a free 127.0.0.1 port; yield its base URL; stop it after.

    `guarded`: with a Space's own server settings (`shared.server.server_config`: deadlines, connection limit).
    """
    import uvicorn

    if guarded:
        from shared.server import server_config

        config = server_config(app, host="127.0.0.1", port=free_port())
    else:
        config = uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(300):
            if server.started:
                break
            time.sleep(0.1)
        assert server.started, "the server did not start"
        yield f"http://127.0.0.1:{server.config.port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def port() -> Iterator[int]:
    """A free port for one test's server."""
    yield free_port()
