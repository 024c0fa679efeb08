"""Deploy: push the Spaces whose bundle changed, and only when their models meet `spaces.<space>.deploy_when`.

What changed is read from `dvc.lock`: the `<space>-bundle` stage records the hash of every input of a bundle
(model exports, app source, `shared/`, params) and of the bundle itself. A Space is selected when any of those
differs between `dvc.lock` at two git revisions: the last deployed commit (the push's `before`, or `HEAD~1`)
and `HEAD`.
The gate reads each model's committed test metrics (`metrics/<model>/evaluate.json`) and blessing.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from training.io import read_json
from training.params import Params
from training.paths import DIST_DIR, DemoPaths

LOCK_FILE = Path("dvc.lock")
WORKTREE = "worktree"
LOWER_IS_BETTER = frozenset({"rmse", "mae"})


@dataclass
class SpacePlan:
    """What deploy would do with one Space, and why."""

    space: str
    repo_id: str
    bundle: Path
    changes: list[str] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    forced: bool = False

    @property
    def selected(self) -> bool:
        """Changed since the revision (or named with --force)."""
        return self.forced or bool(self.changes)

    @property
    def blessed(self) -> bool:
        """Every model meets its thresholds and the bundle exists."""
        return not self.failures

    @property
    def action(self) -> str:
        """push, blocked (selected but not blessed) or unchanged."""
        if not self.selected:
            return "unchanged"
        return "push" if self.blessed else "blocked"

    @property
    def url(self) -> str:
        """The Space's page on the Hub."""
        return f"https://huggingface.co/spaces/{self.repo_id}"


def lock_at(revision: str, lock_file: Path = LOCK_FILE) -> dict[str, Any]:
    """`dvc.lock` as it was at a git revision ({} when it did not exist there or the revision is unknown)."""
    result = subprocess.run(
        ["git", "show", f"{revision}:{lock_file.as_posix()}"], capture_output=True, text=True, check=False
    )
    return (yaml.safe_load(result.stdout) or {}) if result.returncode == 0 else {}


def bundle_state(lock: Mapping[str, Any], space: str) -> dict[str, str]:
    """Every recorded input and output of `<space>-bundle` in a parsed dvc.lock: path (or params key) → hash."""
    stage = (lock.get("stages") or {}).get(f"{space}-bundle")
    if not stage:
        return {}
    state = {entry["path"]: str(entry.get("md5") or entry.get("hash")) for entry in stage.get("deps", [])}
    state.update({f"{entry['path']} (bundle)": str(entry.get("md5")) for entry in stage.get("outs", [])})
    for params_file, values in (stage.get("params") or {}).items():
        for key, value in (values or {}).items():
            state[f"{params_file}: {key}"] = yaml.safe_dump(value, sort_keys=True)
    return state


def changes(before: Mapping[str, str], after: Mapping[str, str]) -> list[str]:
    """What differs between two bundle states, one line each ("new Space" when there was none before)."""
    if not after:
        return []
    if not before:
        return ["new Space (no bundle at the revision)"]
    lines = [f"{path}: changed" for path in sorted(after) if path in before and before[path] != after[path]]
    lines += [f"{path}: added" for path in sorted(set(after) - set(before))]
    lines += [f"{path}: removed" for path in sorted(set(before) - set(after))]
    return lines


def gate(models_thresholds: Mapping[str, Mapping[str, float]], models: list[str]) -> tuple[dict[str, float], list[str]]:
    """Each model's test metrics named in the thresholds, and every threshold it misses (or a missing blessing)."""
    metrics: dict[str, float] = {}
    failures: list[str] = []
    for model in models:
        paths = DemoPaths(model)
        evaluation_file = paths.metrics / "evaluate.json"
        if not evaluation_file.is_file():
            failures.append(f"{model}: no {evaluation_file} (run dvc repro)")
            continue
        test = read_json(evaluation_file).get("test", {})
        for metric, threshold in (models_thresholds.get(model) or {}).items():
            if metric not in test:
                failures.append(f"{model}: no test {metric} in {evaluation_file}")
                continue
            value = float(test[metric])
            metrics[f"{model}.{metric}"] = value
            worse = value > threshold if metric in LOWER_IS_BETTER else value < threshold
            if worse:
                sign = ">" if metric in LOWER_IS_BETTER else "<"
                failures.append(f"{model}: test {metric} {value:.4f} {sign} {threshold}")
        blessing_file = paths.metrics / "blessing.json"
        if blessing_file.is_file() and not read_json(blessing_file).get("blessed", False):
            failures.append(f"{model}: not blessed by the evaluate stage ({blessing_file})")
    return metrics, failures


def repo_id(configured: str, owner: str | None) -> str:
    """`owner/name` from params, with the owner replaced by `SPACESUITE_HUB_OWNER` when that is set."""
    return f"{owner}/{configured.split('/', 1)[1]}" if owner else configured


def plan(
    params: Params,
    spaces: list[str],
    *,
    since: str,
    against: str = "HEAD",
    force: bool = False,
    bundles: Path = DIST_DIR,
    owner: str | None = None,
) -> list[SpacePlan]:
    """A plan per Space in `spaces`: what changed between the revisions `since` and `against`, the gate's verdict,
    the target repo.

    `against` is a revision (HEAD by default: the committed dvc.lock, which CI checks is current) or `worktree`
    (dvc.lock as it is on disk). Not the lock a fresh `dvc repro` rewrites: retraining changes model bytes even
    when nothing that matters did, and every Space would look changed."""
    before = lock_at(since)
    if against == WORKTREE:
        after = yaml.safe_load(LOCK_FILE.read_text(encoding="utf-8")) if LOCK_FILE.is_file() else {}
    else:
        after = lock_at(against)
    plans = []
    for space in spaces:
        section = params.space(space)
        bundle = bundles / space
        metrics, failures = gate(section.deploy_when, section.models)
        if not (bundle / "app.py").is_file():
            failures.append(f"no bundle at {bundle} (run dvc repro)")
        plans.append(
            SpacePlan(
                space=space,
                repo_id=repo_id(section.repo_id, owner),
                bundle=bundle,
                changes=changes(bundle_state(before, space), bundle_state(after, space)),
                metrics=metrics,
                failures=failures,
                forced=force,
            )
        )
    return plans


def push(space_plan: SpacePlan, token: str, revision: str) -> str:
    """Create the Space if needed (sdk gradio) and make its files exactly the bundle's; returns its URL."""
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    api.create_repo(space_plan.repo_id, repo_type="space", space_sdk="gradio", exist_ok=True)
    api.upload_folder(
        repo_id=space_plan.repo_id,
        repo_type="space",
        folder_path=space_plan.bundle,
        commit_message=f"Deploy {space_plan.space} from {revision}",
        delete_patterns=["*"],  # files the bundle no longer has go too (the Hub keeps .gitattributes)
    )
    return space_plan.url


def hub_owner(environ: Mapping[str, str] = os.environ) -> str | None:
    """The Hub owner that replaces the one in params (`SPACESUITE_HUB_OWNER`, e.g. a fork's user), if set."""
    return environ.get("SPACESUITE_HUB_OWNER", "").strip() or None
