"""The deploy tool: change detection on two commits of a temporary git repo, the blessing gate, no token."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from conftest import git_commit_all, run

from training.deploy import bundle_state, changes

SPACES = ("sign-language", "bird-species", "keras-basics", "emotion", "gender")


def _row(output: str, space: str) -> str:
    """The first table line of a Space in `spacesuite deploy` output."""
    return next(line for line in output.splitlines() if line.startswith(f"│ {space} "))


def test_changes_name_what_differs() -> None:
    lock = {
        "stages": {
            "gender-bundle": {
                "deps": [{"path": "spaces/gender", "md5": "a.dir"}, {"path": "build/gender/export", "md5": "b.dir"}],
                "outs": [{"path": "dist/spaces/gender", "md5": "c.dir"}],
                "params": {"params.yaml": {"spaces.gender.title": "Gender"}},
            }
        }
    }
    before = bundle_state(lock, "gender")
    lock["stages"]["gender-bundle"]["deps"][0]["md5"] = "z.dir"
    lock["stages"]["gender-bundle"]["params"]["params.yaml"]["spaces.gender.title"] = "Gender, again"
    assert changes(before, bundle_state(lock, "gender")) == [
        "params.yaml: spaces.gender.title: changed",
        "spaces/gender: changed",
    ]
    assert changes({}, before) == ["new Space (no bundle at the revision)"]
    assert changes(before, before) == [] and bundle_state(lock, "emotion") == {}


@pytest.fixture
def deploy_repo(tiny_repo: Path, tmp_path: Path) -> Path:
    """A git repo with the tiny pipeline's params, dvc.lock and metrics; deploy thresholds every tiny model meets."""
    repo = tmp_path / "repo"
    repo.mkdir()
    shutil.copytree(tiny_repo / "metrics", repo / "metrics")
    shutil.copy(tiny_repo / "dvc.lock", repo / "dvc.lock")
    params = yaml.safe_load((tiny_repo / "params.yaml").read_text())
    for space in SPACES:
        params["spaces"][space]["deploy_when"] = {
            model: {"rmse": 10.0} if model == "housing" else {"accuracy": 0.0}
            for model in params["spaces"][space]["models"]
        }
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    git_commit_all(repo, "deployed")
    return repo


@pytest.mark.slow
def test_dry_run_selects_only_the_changed_space_and_the_gate_blocks(deploy_repo: Path, tiny_repo: Path) -> None:
    bundles = str(tiny_repo / "dist" / "spaces")
    unchanged = run(["spacesuite", "deploy", "--dry-run", "--since", "HEAD", "--bundles", bundles], deploy_repo)
    assert unchanged.returncode == 0, unchanged.stderr
    assert all("unchanged" in _row(unchanged.stdout, space) for space in SPACES)

    lock = yaml.safe_load((deploy_repo / "dvc.lock").read_text())
    for dep in lock["stages"]["gender-bundle"]["deps"]:
        if dep["path"] == "spaces/gender":
            dep["md5"] = "0" * 32 + ".dir"  # as if app.py had been edited and the pipeline re-run
    (deploy_repo / "dvc.lock").write_text(yaml.safe_dump(lock, sort_keys=False))
    git_commit_all(deploy_repo, "gender app changed")

    dry = run(["spacesuite", "deploy", "--dry-run", "--since", "HEAD~1", "--bundles", bundles], deploy_repo)
    assert dry.returncode == 0, dry.stderr
    assert "push" in _row(dry.stdout, "gender") and "spaces/gender: changed" in dry.stdout
    assert "blessed" in _row(dry.stdout, "gender")
    assert all("unchanged" in _row(dry.stdout, space) for space in SPACES if space != "gender")

    params = yaml.safe_load((deploy_repo / "params.yaml").read_text())
    params["spaces"]["gender"]["deploy_when"] = {"gender": {"accuracy": 1.01}}
    (deploy_repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    gated = run(["spacesuite", "deploy", "--dry-run", "--since", "HEAD~1", "--bundles", bundles], deploy_repo)
    assert gated.returncode == 1
    assert "blocked" in _row(gated.stdout, "gender") and "< 1.01" in gated.stdout
    assert "blocked: gender" in gated.stderr

    forced = run(
        ["spacesuite", "deploy", "emotion", "--force", "--since", "HEAD", "--bundles", bundles],
        deploy_repo,
        env_extra={"HF_TOKEN": ""},
    )
    assert forced.returncode == 1 and "HF_TOKEN is not set" in forced.stderr  # refused before any upload
    assert "push" in _row(forced.stdout, "emotion")
