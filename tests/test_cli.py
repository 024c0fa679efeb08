"""The `spacesuite` command as a user meets it: real subprocesses, one line per known error, the extra a missing
module belongs to, logging on, the MLflow runs of a real pipeline, and every imported package declared."""

from __future__ import annotations

import ast
import io
import json
import logging
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
import yaml
from conftest import REPO, run
from packaging.requirements import Requirement
from rich.console import Console

from training.cli import configure_logging
from training.extras import install_hint
from training.progress import bars


def blocked(modules: list[str], *arguments: str, cwd: Path = REPO) -> tuple[int, str]:
    """Run the real CLI with `modules` unimportable (as in an install without their extra); exit status, output."""
    code = (
        "import sys\n"
        f"for name in {modules!r}: sys.modules[name] = None  # import raises ModuleNotFoundError\n"
        "from training.cli import app\n"
        f"sys.argv = ['spacesuite', *{list(arguments)!r}]\n"
        "app()\n"
    )
    result = run([sys.executable, "-c", code], cwd, env_extra={"PYTHONPATH": str(REPO), "COLUMNS": "200"})
    return result.returncode, result.stdout + result.stderr


def test_a_typo_in_a_params_choice_names_the_allowed_values_in_one_line(tmp_path: Path) -> None:
    params = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
    params["drift"]["num_method"] = "wasserstien"
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")
    result = run(["spacesuite", "drift"], tmp_path, env_extra={"COLUMNS": "300"})
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "Traceback" not in output and "errors.pydantic.dev" not in output
    (line,) = [line for line in output.splitlines() if line.strip()]
    assert line.startswith("error: params.yaml: drift.num_method:")
    assert "'wasserstein', 'ks', 'psi'" in line and "(found 'wasserstien')" in line


def test_a_missing_extra_is_named_in_one_sentence_not_a_traceback() -> None:
    status, output = blocked(["sklearn"], "runs")
    assert status == 1, output
    assert "Traceback" not in output
    assert "error: `spacesuite runs` needs the train extra (no module named 'sklearn')" in output
    assert "pip install -e '.[train]'" in output


def test_the_drift_job_without_sdv_says_what_to_run_before_any_work(tmp_path: Path) -> None:
    (tmp_path / "params.yaml").write_text((REPO / "params.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    status, output = blocked(["sdv"], "drift", "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert status == 1, output
    assert "Traceback" not in output
    assert "pip install --no-deps sdv==2.0.0" in output and "drift" in output
    assert not (tmp_path / "out").exists()  # said before any work started


def test_install_hint_names_each_extra_from_pyproject() -> None:
    assert "the train extra" in install_hint("tensorflow", "spacesuite train")
    assert "the drift extra (no module named 'rdt')" in install_hint("rdt.transformers", "spacesuite drift")
    assert "not installed" in install_hint("no_such_package_anywhere")


def test_logging_goes_to_the_console_once_project_info_and_others_warnings_only() -> None:
    root = logging.getLogger()
    before = list(root.handlers), root.level
    buffer = io.StringIO()
    console = Console(file=buffer, width=200)
    try:
        configure_logging(console)
        configure_logging(console)  # a second call adds no second handler
        logging.getLogger("training.drift").info("a stage's own line")
        logging.getLogger("httpx").info("HTTP Request: GET ...")
        logging.getLogger("httpx").warning("a library's warning")
    finally:
        for handler in root.handlers[len(before[0]) :]:
            root.removeHandler(handler)
        root.setLevel(before[1])
    text = buffer.getvalue()
    assert text.count("a stage's own line") == 1
    assert "HTTP Request" not in text and "a library's warning" in text


def test_metrics_shows_every_model_in_a_table_that_fits_80_columns() -> None:
    result = run(["spacesuite", "metrics"], REPO, env_extra={"COLUMNS": "80"})
    assert result.returncode == 0, result.stderr
    assert max(len(line) for line in result.stdout.splitlines()) <= 80
    rows = {line.split()[0]: line.split()[1:] for line in result.stdout.splitlines() if line.split()}
    for model in ("digits", "housing", "gender"):
        test = json.loads((REPO / "metrics" / model / "evaluate.json").read_text())["test"]
        drift = json.loads((REPO / "metrics" / "drift" / f"{model}.json").read_text())[model]
        headline = f"{test['rmse']:.3f}" if "rmse" in test else f"{test['accuracy']:.3f}"
        assert headline in rows[model] and f"{drift['false_alarm_rate']:.0%}" == rows[model][-1]


def test_progress_bars_draw_each_item_the_work_reports() -> None:
    buffer = io.StringIO()
    with bars(Console(file=buffer, force_terminal=True, width=100)) as step:
        step("drift digits", 0, 12)
        step("drift digits", 12, 12)
        step("gender: waiting for the Space to run", 3, 900)
    drawn = buffer.getvalue()
    assert "drift digits" in drawn and "12/12" in drawn and "3/900" in drawn


@pytest.mark.slow
def test_runs_lists_the_mlflow_runs_of_the_sklearn_models(tiny_repo: Path) -> None:
    result = run(["spacesuite", "runs"], tiny_repo, env_extra={"COLUMNS": "200"})
    assert result.returncode == 0, result.stderr
    for model in ("gender", "penguins"):
        selection = yaml.safe_load((tiny_repo / "build" / model / "train" / "selection.json").read_text())
        rows = [line for line in result.stdout.splitlines() if line.split()[:1] == [model]]
        assert {line.split()[1] for line in rows} == set(selection["val"]), result.stdout
        (kept,) = [line for line in rows if " * " in line]
        assert kept.split()[1] == selection["selected"]
        assert f"{selection['val'][selection['selected']]['accuracy']:.3f}" in kept
        assert f"sqlite:///{(tiny_repo / 'build' / model / 'mlflow' / 'mlflow.db').resolve()}" in result.stderr


def _third_party_imports(folders: tuple[str, ...]) -> set[str]:
    found: set[str] = set()
    for folder in folders:
        for file in (REPO / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    found |= {alias.name.split(".")[0] for alias in node.names}
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    found.add(node.module.split(".")[0])
    return {name for name in found if name not in sys.stdlib_module_names and name not in ("shared", "training")}


def test_every_package_the_code_imports_is_declared_in_pyproject() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    lines = project["dependencies"] + [line for extra in project["optional-dependencies"].values() for line in extra]
    declared = {Requirement(line).name.lower().replace("_", "-") for line in lines}
    distributions = packages_distributions()
    undeclared = {
        module: distributions.get(module)
        for module in _third_party_imports(("shared", "training", "spaces"))
        if not {name.lower().replace("_", "-") for name in distributions.get(module, [module])} & declared
    }
    assert not undeclared, f"imported but not declared in pyproject.toml: {undeclared}"
