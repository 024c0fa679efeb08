"""What was evaluated is what ships: a DVC remote (here a local directory, the same code path as s3://, gs://, ...)
carries every artifact `dvc.lock` records from one clone to another, so the second has nothing to reproduce and
holds byte-identical bundles."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import git_commit_all, run

from training.deploy import local_manifest

pytestmark = pytest.mark.slow
SPACES = sorted(path.parent.name for path in (Path(__file__).parents[1] / "spaces").glob("*/app.py"))


def push_then_pull_into_a_second_clone(first: Path) -> None:
    """Push the tiny run's copy `first` to a local DVC remote, clone it, pull: the clone is up to date and holds the
    same bundles (every check is here: it runs in the background, `tiny_repo_copy_job` re-raises its failure)."""
    second, remote = first.parent / "second", first.parent / "remote"
    assert run(["dvc", "remote", "add", "--default", "storage", str(remote)], first).returncode == 0
    git_commit_all(first, "pipeline run on tiny params, with its DVC remote")
    pushed = run(["dvc", "push"], first)
    assert pushed.returncode == 0, pushed.stderr

    cloned = run(["git", "clone", "-q", str(first), str(second)], first.parent)
    assert cloned.returncode == 0, cloned.stderr
    assert not (second / "dist").exists()
    for installed in first.glob("spaces/*/node_modules"):  # what bootstrap's `npm ci` installs (the lock file pins it)
        shutil.copytree(installed, second / installed.relative_to(first), symlinks=True)
    pulled = run(["dvc", "pull"], second)
    assert pulled.returncode == 0, pulled.stdout + pulled.stderr

    status = run(["dvc", "status"], second)
    assert status.returncode == 0 and "Data and pipelines are up to date." in status.stdout, status.stdout
    repro = run(["dvc", "repro"], second)
    assert repro.returncode == 0 and "Running stage" not in repro.stdout, repro.stdout[-2000:]
    for space in SPACES:
        recorded = local_manifest(first / "dist" / "spaces" / space, "").bundle_sha256
        assert local_manifest(second / "dist" / "spaces" / space, "").bundle_sha256 == recorded, space


@pytest.mark.on_tiny_repo_copy.with_args(push_then_pull_into_a_second_clone)
def test_a_second_clone_pulls_exactly_what_the_first_evaluated(tiny_repo_copy_job: None) -> None:
    assert tiny_repo_copy_job is None  # the job's own checks passed
