"""Detection and false-alarm rates of the drift job for models trained on their real data, over many seeds.

For each model it trains the model on its real files through the real pipeline in a temporary copy
(``bench/real_data.py``, kept; the demo's quick ``real_check`` params plus any ``--set``), or reuses such a copy
(``--copy``), then runs the job's synthetic scenarios there (``training.drift.run``, ``--seeds`` seeds, no HTML)
and prints per model: the detection rate (goal ≥ 95 %), the false-alarm rate (goal ≤ 5 %), the columns that
false-alarmed (no-shift runs flagged, per column) and the shifts that were missed. Reports go to a temporary
folder; nothing is written inside the repository (except ``--json`` if asked).

Run from the repository root; one training at a time (a few minutes each on 2 CPU cores)::

    .venv/bin/python bench/drift_real.py gender penguins housing --public
    .venv/bin/python bench/drift_real.py emotion --public --set emotion.train.epochs=2
    .venv/bin/python bench/drift_real.py --copy /tmp/spacesuite-real-gender-xxxx   # a copy kept by real_data.py
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from real_data import REPO
from real_data import run as train_on_real_data

sys.path.insert(0, str(REPO))
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from training.demos import demo, names, section_of

GOALS = {"detection_rate": 0.95, "false_alarm_rate": 0.05}


def quick_overrides(model: str) -> list[str]:
    """The demo's `real_check` params (the tests' quick settings) as `--set` overrides."""
    check = demo(model).real_check
    flat: list[str] = []

    def walk(prefix: str, node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(f"{prefix}.{key}", value)
        else:
            flat.append(f"{prefix}={node}")

    walk(section_of(model), dict(check.params) if check else {})
    return flat


def trained_models(copy: Path) -> list[str]:
    """The models of a repository copy that have an export and an ingested dataset."""
    return [m for m in names() if (copy / "build" / m / "export").is_dir() and (copy / "build" / m / "ingest").is_dir()]


def drift_figures(copy: Path, model: str, seeds: int, rows: int | None) -> dict[str, Any]:
    """Run the drift job's scenarios for `model` inside `copy` (its params and pipeline outputs, this checkout's
    code) and return its rates, the columns that false-alarmed and the shifts that were missed."""
    from training import drift
    from training.params import load_params

    here = Path.cwd()
    os.chdir(copy)  # the job reads params.yaml and build/ relative to the working directory
    try:
        params = load_params()
        update: dict[str, Any] = {"seeds": seeds, "html": False}
        if rows is not None:
            update["synthetic_rows"] = rows
        with tempfile.TemporaryDirectory() as folder:
            verdicts, metrics = drift.run(
                [model], params.drift.model_copy(update=update), seed=params.base.seed, out=Path(folder),
                metrics_path=Path(folder) / "m.json", progress=lambda _line: None,
            )  # fmt: skip
    finally:
        os.chdir(here)
    quiet = [verdict for verdict in verdicts if verdict.scenario == "no_shift"]
    figures = metrics[model]
    return {
        "model": model,
        "copy": str(copy),
        "seeds": seeds,
        "detection_rate": figures["detection_rate"],
        "false_alarm_rate": figures["false_alarm_rate"],
        "false_alarm_columns": dict(Counter(column for verdict in quiet for column in verdict.drifted)),
        "missed": dict(Counter(verdict.scenario for verdict in verdicts if verdict.detected is False)),
        "reference_rows": figures["reference_rows"],
        "reference_held_out": figures["reference_held_out"],
        "synthetic_refused": figures["synthetic_refused"],
    }


def print_table(figures: list[dict[str, Any]]) -> None:
    """One line per model, then the goals."""
    print(
        f"\n{'model':<14}{'seeds':>6}{'reference':>10}{'detection':>10}{'false alarm':>12}  false-alarm columns; missed"
    )
    for row in figures:
        columns = ", ".join(f"{c} {n}/{row['seeds']}" for c, n in row["false_alarm_columns"].items()) or "-"
        missed = ", ".join(f"{s} {n}/{row['seeds']}" for s, n in row["missed"].items()) or "-"
        print(
            f"{row['model']:<14}{row['seeds']:>6}{row['reference_rows']:>10,}"
            f"{row['detection_rate']:>10.0%}{row['false_alarm_rate']:>12.0%}  {columns}; {missed}"
        )
    print(f"goals: detection ≥ {GOALS['detection_rate']:.0%}, false alarms ≤ {GOALS['false_alarm_rate']:.0%}")


def main(argv: list[str] | None = None) -> None:
    """Train (or reuse) each model on its real data, run the drift scenarios over the seeds, print the rates."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="*", help=f"models to train on their real data ({', '.join(names())})")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--data", type=Path, help="folder of the real files (one model)")
    where.add_argument("--public", action="store_true", help="fetch them from the public sources (offline caches)")
    parser.add_argument("--copy", type=Path, action="append", default=[], help="reuse a copy kept by real_data.py")
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="params override key=value")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--rows", type=int, help="synthetic rows per scenario (default: params.yaml's)")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args(argv)
    if unknown := sorted(set(args.models) - set(names())):
        parser.error(f"unknown model(s) {', '.join(unknown)}: choose from {', '.join(names())}")
    if args.models and not (args.data or args.public):
        parser.error("training models needs --data or --public")
    figures = []
    for copy in args.copy:
        figures += [drift_figures(copy, model, args.seeds, args.rows) for model in trained_models(copy)]
    for model in args.models:
        overrides = quick_overrides(model) + [item for item in args.overrides if item.startswith(section_of(model))]
        report = train_on_real_data(model, args.data, overrides, keep=True, evaluate_only=False)
        figures.append(drift_figures(Path(report["folder"]), model, args.seeds, args.rows))
    print_table(figures)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
