"""Wall time of the drift job at scale: synthetic inputs (SDV for feature rows), the model's answers to them and
Evidently, for every model.

For each model it runs the real job (`training.drift.run`) with ``--rows`` synthetic rows per scenario (100,000
by default), one seed, on the pipeline's current outputs, and prints the reference size, the whole model's wall
time and the detection / false-alarm rates. Reports go to a temporary folder.

Run from the repository root after the pipeline (``dvc repro``)::

    .venv/bin/python bench/drift_job.py              # 100k rows, every model, JSON reports only
    .venv/bin/python bench/drift_job.py --html       # with the HTML reports too
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.chdir(REPO)
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from training import drift  # noqa: E402
from training.demos import names  # noqa: E402
from training.params import load_params  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000, help="synthetic rows per scenario")
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--html", action="store_true", help="also write the HTML reports")
    parser.add_argument("models", nargs="*", default=names())
    args = parser.parse_args()
    params = load_params()
    settings = params.drift.model_copy(update={"synthetic_rows": args.rows, "seeds": args.seeds, "html": args.html})
    print(f"drift job, {args.rows:,} synthetic rows per scenario, {args.seeds} seed(s), {os.cpu_count()} CPUs")
    print(f"{'model':<14} {'reference':>9} {'wall s':>7} {'detection':>9} {'false alarm':>11}")
    total = 0.0
    with tempfile.TemporaryDirectory() as folder:
        for model in args.models:
            start = time.perf_counter()
            _, metrics = drift.run(
                [model], settings, seed=params.base.seed, out=Path(folder), metrics_path=Path(folder) / "m.json",
                progress=lambda _line: None,
            )  # fmt: skip
            wall = time.perf_counter() - start
            total += wall
            figures = metrics[model]
            print(
                f"{model:<14} {figures['reference_rows']:>9,} {wall:>7.1f} "
                f"{figures['detection_rate']:>9.0%} {figures['false_alarm_rate']:>11.0%}"
            )
    print(f"{'all models':<14} {'':>9} {total:>7.1f}")


if __name__ == "__main__":
    main()
