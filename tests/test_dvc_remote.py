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


def test_a_second_clone_pulls_exactly_what_the_first_evaluated(tiny_repo: Path, tmp_path: Path) -> None:
    first, second, remote = tmp_path / "first", tmp_path / "second", tmp_path / "remote"
    shutil.copytree(tiny_repo, first, symlinks=True, ignore=shutil.ignore_patterns("repro.log"))
    assert run(["dvc", "remote", "add", "--default", "storage", str(remote)], first).returncode == 0
    git_commit_all(first, "pipeline run on tiny params, with its DVC remote")
    pushed = run(["dvc", "push"], first)
    assert pushed.returncode == 0, pushed.stderr

    cloned = run(["git", "clone", "-q", str(first), str(second)], tmp_path)
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
