"""dvc.yaml: every stage depends on every project module its command imports (read from the source, transitively),
and the templated pipeline stays short: a demo is a few lines in it, not a page."""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import pytest
import yaml

from training.cards import space_sdk

REPO = Path(__file__).resolve().parents[1]
# Modules that cannot change what a stage writes: the CLI's plumbing (progress bars, the missing-extra check), the
# params loader (DVC tracks the params each stage lists), the paths (spelled in dvc.yaml too), the error classes and
# the environment reader.
NOT_OUTPUTS = {
    "training/cli.py", "training/params.py", "training/sources.py", "training/paths.py",
    "training/progress.py", "training/extras.py", "shared/errors.py", "shared/constants.py",
}  # fmt: skip
# The module that does the work of each command, by the framework of the demo it works on.
COMMANDS = {
    "ingest": {"keras": "training.ingest", "sklearn": "training.ingest"},
    "statistics": {"keras": "training.statistics", "sklearn": "training.statistics"},
    "prepare": {"keras": "training.prepare", "sklearn": "training.prepare"},
    "train": {"keras": "training.train", "sklearn": "training.sklearn_models"},
    "evaluate": {"keras": "training.evaluate", "sklearn": "training.sklearn_models"},
    "export": {"keras": "training.export", "sklearn": "training.sklearn_models"},
    "tfjs": {"keras": "training.tfjs"},
    "parity": {"keras": "training.parity"},
    "drift": {"keras": "training.drift", "sklearn": "training.drift"},
    "bundle": {None: "training.bundle"},
    "tfserving-config": {None: "training.tfserving"},
}


def module_file(name: str) -> str | None:
    """The repository file of a project module (`training.io` → training/io.py), or None for anything else."""
    path = Path(*name.split("."))
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if (REPO / candidate).is_file():
            return candidate.as_posix()
    return None


def _type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


@cache
def imported_by(file: str) -> frozenset[str]:
    """The project files one file imports, anywhere in it (functions too), `if TYPE_CHECKING:` blocks aside."""
    tree = ast.parse((REPO / file).read_text(encoding="utf-8"))
    skipped = {id(child) for node in ast.walk(tree) if _type_checking(node) for child in ast.walk(node)}
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        found |= {path for name in names if (path := module_file(name))}
    return frozenset(found)


def closure(files: set[str]) -> set[str]:
    """Every project file reachable from `files` through imports, the ones that cannot change an output aside."""
    seen: set[str] = set()
    pending = [file for file in files if file not in NOT_OUTPUTS]
    while pending:
        file = pending.pop()
        if file in seen:
            continue
        seen.add(file)
        pending += [found for found in imported_by(file) if found not in NOT_OUTPUTS and found not in seen]
    return seen


def stages() -> list[tuple[str, str, list[str]]]:
    """(name, command, deps) of every stage dvc.yaml defines, templates expanded by DVC itself."""
    from dvc.repo import Repo

    with Repo(str(REPO)) as repo:
        return [
            (stage.addressing, stage.cmd, [dep.def_path for dep in stage.deps])
            for stage in repo.index.stages
            if getattr(stage, "cmd", None)
        ]


def command_modules(command: str) -> set[str]:
    """The project files a `spacesuite <verb> <model>` command runs: its work module and the demo's module."""
    from training.demos import demo, names

    words = command.split()
    assert words[0] == "spacesuite", command
    verb, argument = words[1], words[2] if len(words) > 2 else ""
    if verb == "bundle" and space_sdk(REPO / "spaces" / argument / "README.md") == "static":
        return {"training/web_bundle.py"}  # a static Space's page (training/web_bundle.py), not a Gradio app
    found = demo(argument) if argument in names() and None not in COMMANDS[verb] else None  # bundle: a Space
    module = COMMANDS[verb][found.framework if found else None]
    files = {module_file(module)}
    if found is not None:
        files.add(module_file(f"training.demos.{found.section}"))
    return {file for file in files if file}


@pytest.mark.parametrize(("name", "command", "deps"), stages(), ids=[stage[0] for stage in stages()])
def test_every_stage_depends_on_the_modules_its_command_imports(name: str, command: str, deps: list[str]) -> None:
    needed = closure(command_modules(command))
    covered = {file for file in needed if any(file == dep or file.startswith(dep.rstrip("/") + "/") for dep in deps)}
    assert needed == covered, f"{name}: add to its deps in dvc.yaml: {sorted(needed - covered)}"


def test_the_pipeline_is_short_and_a_demo_is_a_few_lines_of_it() -> None:
    text = (REPO / "dvc.yaml").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 500
    from training.demos import demos

    for demo in demos():  # its lines: one entry per group it belongs to, and its Space's bundle
        lines = [line for line in text.splitlines() if re.match(rf"\s+{re.escape(demo.name)}:", line)]
        assert 1 <= len(lines) <= 5, (demo.name, lines)


def test_the_lock_file_holds_only_stages_of_the_pipeline() -> None:
    # DVC keeps a removed or renamed stage's entry in dvc.lock forever, and every `dvc repro` process parses and
    # rewrites the whole file: stale entries cost seconds per stage
    from dvc.repo import Repo

    with Repo(str(REPO)) as repo:
        stages = {stage.addressing for stage in repo.index.stages if not stage.is_data_source}
    locked = set(yaml.safe_load((REPO / "dvc.lock").read_text())["stages"])
    assert locked <= stages, f"dvc.lock holds stages dvc.yaml no longer has: {sorted(locked - stages)}"
