"""Wall time of the full offline pipeline (`dvc repro`) on a fresh temporary copy of the repository.

What it measures: the repository's tracked files (``git ls-files``, as they are on disk now; or a commit with
``--ref``) are copied into a temporary folder, which becomes a new git repository with one commit. There it
runs ``spacesuite data sample``, then a full ``dvc repro`` (every stage runs: the copy has no DVC cache and no
build outputs), then a second ``dvc repro`` that should do nothing. It prints the wall time of each command and
of each stage of the first ``dvc repro`` (from the time stamps of dvc's "Running stage" lines, so a stage's
time includes dvc's own bookkeeping for it).

The copy's own ``shared/`` and ``training/`` are put first on PYTHONPATH, so the stages run the copied code
rather than the editable install's. The TF.js stage needs the converter environment, which is not tracked:
``SPACESUITE_TFJS_PYTHON`` points at the repository's ``.venv-tfjs`` (or ``--tfjs-python``).
Nothing is written inside the repository (except ``--json`` if asked).

Run from the repository root (about a minute or two on 2 CPU cores)::

    .venv/bin/python bench/pipeline_walltime.py
    .venv/bin/python bench/pipeline_walltime.py --ref HEAD --keep --json bench/results/pipeline.json
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
STAGE_LINE = re.compile(r"^Running stage '([^']+)'")
GIT_IDENTITY = ["-c", "user.name=bench", "-c", "user.email=bench@localhost", "-c", "commit.gpgsign=false"]


def copy_tracked(repo: Path, dest: Path, ref: str | None) -> int:
    """Copy the tracked files of `repo` (working tree, or `ref` via git archive) into `dest`; return the count."""
    if ref is not None:
        archive = subprocess.run(["git", "-C", str(repo), "archive", ref], check=True, capture_output=True)
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
        return sum(1 for path in dest.rglob("*") if path.is_file())
    listing = subprocess.run(
        ["git", "-C", str(repo), "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        check=True,
        capture_output=True,
        text=True,
    )
    count = 0
    for name in filter(None, listing.stdout.split("\0")):
        source = repo / name
        if not source.is_file():  # deleted in the working tree but still tracked
            continue
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
        count += 1
    return count


def run_timed(command: list[str], cwd: Path, env: dict[str, str], log: Path) -> tuple[float, list[tuple[float, str]]]:
    """Run `command`, echoing nothing; return its wall time and its output lines with seconds since start.

    Raises:
        subprocess.CalledProcessError: the command failed (its output is in `log`).
    """
    start = time.perf_counter()
    lines: list[tuple[float, str]] = []
    with log.open("a", encoding="utf-8") as handle:
        handle.write(f"$ {' '.join(command)}\n")
        process = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
        )
        assert process.stdout is not None
        for line in process.stdout:
            handle.write(line)
            lines.append((time.perf_counter() - start, line.rstrip("\n")))
        returncode = process.wait()
    wall = time.perf_counter() - start
    if returncode != 0:
        raise subprocess.CalledProcessError(returncode, command)
    return wall, lines


def stage_times(lines: list[tuple[float, str]], total: float) -> dict[str, float]:
    """Seconds per stage: from its "Running stage" line to the next one (the last one to the end)."""
    starts = [(stamp, match.group(1)) for stamp, line in lines if (match := STAGE_LINE.match(line))]
    times = {}
    for index, (stamp, name) in enumerate(starts):
        end = starts[index + 1][0] if index + 1 < len(starts) else total
        times[name] = end - stamp
    return times


def pipeline_env(copy: Path, tfjs_python: Path | None) -> dict[str, str]:
    """This environment plus: the copy's code first on PYTHONPATH, the venv on PATH, no telemetry."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(copy), env.get("PYTHONPATH")]))
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.update({"DO_NOT_TRACK": "1", "GRADIO_ANALYTICS_ENABLED": "False", "TF_CPP_MIN_LOG_LEVEL": "2"})
    if tfjs_python is not None:
        env["SPACESUITE_TFJS_PYTHON"] = str(tfjs_python)
    return env


def print_table(report: dict[str, Any]) -> None:
    """Print the wall times as one table."""
    print(f"\nPipeline wall time on a fresh copy ({report['files']} tracked files, source: {report['source']})")
    print(f"{'step':<44}{'wall s':>10}")
    print("-" * 54)
    for step, seconds in report["steps"].items():
        print(f"{step:<44}{seconds:>10.1f}")
        if step == "dvc repro (full)":
            for stage, stage_s in report["stages"].items():
                print(f"{'  ' + stage:<44}{stage_s:>10.1f}")
    print("-" * 54)
    print(f"{'total (sample + full repro)':<44}{report['total_s']:>10.1f}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", type=Path, default=REPO, help="the repository to copy")
    parser.add_argument("--ref", help="copy this commit (git archive) instead of the tracked files on disk")
    parser.add_argument(
        "--tfjs-python",
        type=Path,
        default=REPO / ".venv-tfjs" / "bin" / "python",
        help="Python of the TF.js converter environment (SPACESUITE_TFJS_PYTHON)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary copy (its path is printed)")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here (e.g. bench/results/...)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Copy, init, sample, repro twice; print the times."""
    args = parse_args(argv)
    repo = args.repo.resolve()
    copy = Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    log = copy.parent / f"{copy.name}.log"
    tfjs_python = args.tfjs_python.absolute() if args.tfjs_python.exists() else None  # not resolve(): venv link
    if tfjs_python is None:
        print(f"warning: {args.tfjs_python} not found; the tfjs stage will fail", file=sys.stderr)
    report: dict[str, Any] = {"source": args.ref or "working tree (git ls-files)", "steps": {}}
    try:
        start = time.perf_counter()
        report["files"] = copy_tracked(repo, copy, args.ref)
        report["steps"]["copy tracked files"] = time.perf_counter() - start
        env = pipeline_env(copy, tfjs_python)
        start = time.perf_counter()
        subprocess.run(["git", "init", "-q", "-b", "main"], cwd=copy, check=True)
        subprocess.run(["git", "add", "-A"], cwd=copy, check=True)
        subprocess.run(["git", *GIT_IDENTITY, "commit", "-q", "-m", "bench snapshot"], cwd=copy, check=True)
        report["steps"]["git init + commit"] = time.perf_counter() - start
        check = subprocess.run(
            [sys.executable, "-c", "import training; print(training.__file__)"],
            cwd=copy,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        if not check.stdout.strip().startswith(str(copy)):
            raise SystemExit(f"the copy's code is not first on the path: training is {check.stdout.strip()}")
        steps = [
            ("spacesuite data sample", ["spacesuite", "data", "sample"]),
            ("dvc repro (full)", [sys.executable, "-m", "dvc", "repro"]),
            ("dvc repro (no-op, second run)", [sys.executable, "-m", "dvc", "repro"]),
        ]
        for label, command in steps:
            print(f"{label} ...", flush=True)
            wall, lines = run_timed(command, copy, env, log)
            report["steps"][label] = wall
            if label == "dvc repro (full)":
                report["stages"] = stage_times(lines, wall)
            if label.startswith("dvc repro (no-op"):
                ran = [name for _, line in lines if (match := STAGE_LINE.match(line)) for name in [match.group(1)]]
                report["no_op_stages_run"] = ran
        report["total_s"] = report["steps"]["spacesuite data sample"] + report["steps"]["dvc repro (full)"]
    except subprocess.CalledProcessError as error:
        print(f"error: {' '.join(error.cmd)} failed ({error.returncode}); see {log}", file=sys.stderr)
        raise SystemExit(1) from error
    finally:
        if args.keep:
            print(f"kept the copy at {copy} (log {log})")
        else:
            shutil.rmtree(copy, ignore_errors=True)
    print_table(report)
    if report.get("no_op_stages_run"):
        print(f"warning: the second dvc repro ran stages again: {', '.join(report['no_op_stages_run'])}")
    print(f"log: {log}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
