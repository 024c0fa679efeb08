"""`spacesuite repro --jobs 2`: independent stages of a real DVC pipeline run at the same time, dependent ones in
order; the lock file ends up as `dvc repro` would leave it, and a failing stage is named."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import yaml
from conftest import run

STAGE = (  # a stage that writes when it started and ended
    "python -c \"import time; s=time.time(); time.sleep({sleep}); open('{out}','w').write(f'{{s}} {{time.time()}}')\""
)


def _pipeline(folder: Path, *, failing: bool = False) -> None:
    stages = {
        "a": {"cmd": STAGE.format(sleep=0, out="a.txt"), "outs": ["a.txt"]},
        "b": {"cmd": STAGE.format(sleep=2, out="b.txt"), "deps": ["a.txt"], "outs": ["b.txt"]},
        "c": {"cmd": STAGE.format(sleep=2, out="c.txt"), "deps": ["a.txt"], "outs": ["c.txt"]},
        "d": {"cmd": STAGE.format(sleep=0, out="d.txt"), "deps": ["b.txt", "c.txt"], "outs": ["d.txt"]},
    }
    if failing:
        stages["c"]["cmd"] = "python -c \"raise SystemExit('c broke')\""
    (folder / "dvc.yaml").write_text(yaml.safe_dump({"stages": stages}, sort_keys=False))
    (folder / ".gitignore").write_text(
        textwrap.dedent("""\
        /a.txt
        /b.txt
        /c.txt
        /d.txt
    """)
    )


def _interval(path: Path) -> tuple[float, float]:
    start, end = path.read_text().split()
    return float(start), float(end)


def _repo(folder: Path, *, failing: bool = False) -> Path:
    assert run(["git", "init", "-q"], folder).returncode == 0
    assert run(["dvc", "init", "-q"], folder).returncode == 0
    _pipeline(folder, failing=failing)
    return folder


def test_independent_stages_run_together_and_the_lock_is_complete(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    result = run(["spacesuite", "repro", "--jobs", "2"], repo, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    b, c, d = (_interval(repo / f"{name}.txt") for name in "bcd")
    assert b[0] < c[1] and c[0] < b[1], f"b {b} and c {c} did not overlap"
    assert d[0] >= max(b[1], c[1]) and min(b[0], c[0]) >= _interval(repo / "a.txt")[1]
    assert set(yaml.safe_load((repo / "dvc.lock").read_text())["stages"]) == {"a", "b", "c", "d"}
    assert re.search(r"^\[4/4\] d done in \d+ s$", result.stdout, re.MULTILINE), result.stdout[-3000:]
    status = run(["dvc", "repro"], repo)
    assert "Data and pipelines are up to date." in status.stdout, status.stdout + status.stderr
    again = run(["spacesuite", "repro"], repo)  # up to date: decided from one `dvc status`, no stage started
    assert again.returncode == 0 and "Running stage" not in again.stdout
    assert "Data and pipelines are up to date." in again.stdout


def test_a_failing_stage_is_named_and_nothing_downstream_runs(tmp_path: Path) -> None:
    repo = _repo(tmp_path, failing=True)
    result = run(["spacesuite", "repro", "--jobs", "2"], repo, timeout=300)
    assert result.returncode == 1
    assert re.search(r"^\[[23]/4\] c FAILED in \d+ s$", result.stdout, re.MULTILINE), result.stdout[-3000:]
    assert "c broke" in result.stdout and "dvc repro failed at c" in result.stderr
    assert "Traceback" not in result.stderr
    assert (repo / "b.txt").is_file() and not (repo / "d.txt").exists()
