"""LiteRT through `shared.predictor` on the batch sizes micro-batching makes (mixed, 1-8 rows), for one or more
`shared/` packages interleaved: what a model call costs per row, in wall time and CPU, whatever the serving code.

Run from the repository root (the Spaces' bundles hold the models)::

    .venv/bin/python bench/predictor_batches.py --dist /tmp/lockrun/dist/spaces --model bird-species \\
        --shared /work/main/shared --shared shared --rounds 3
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
from pathlib import Path
from types import ModuleType

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def predictor_module(shared: Path) -> ModuleType:
    """`shared.predictor` as found in the folder above `shared` (a fresh import each time)."""
    for name in [name for name in sys.modules if name == "shared" or name.startswith("shared.")]:
        del sys.modules[name]
    sys.path.insert(0, str(shared.resolve().parent))
    try:
        return importlib.import_module("shared.predictor")
    finally:
        sys.path.pop(0)


def main(argv: list[str] | None = None) -> None:
    """Load the model with each `shared/`, check they agree, then time them in interleaved rounds."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dist", type=Path, default=REPO / "dist" / "spaces", help="folder of bundled Spaces")
    parser.add_argument("--model", default="bird-species", help="a Space whose model/ is one LiteRT image model")
    parser.add_argument("--shared", type=Path, action="append", help="a shared/ package (repeat to compare)")
    parser.add_argument("--sizes", default="1,3,8,2,5,1", help="batch sizes, in turn")
    parser.add_argument("--seconds", type=float, default=5.0, help="per round and package")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    folder = args.dist / args.model / "model"
    predictors = {str(shared): predictor_module(shared).Predictor.from_artifact(folder) for shared in args.shared}
    shape = next(iter(predictors.values())).spec.input
    rows = np.random.default_rng(0).random(
        (max(map(int, args.sizes.split(","))), shape.height, shape.width, shape.channels)
    )
    batches = [rows[:size].astype(np.float32) for size in map(int, args.sizes.split(","))]
    answers = [np.concatenate([p.predict(b) for b in batches]) for p in predictors.values()]
    assert all(np.abs(a - answers[0]).max() < 1e-5 for a in answers), "the packages answer differently"
    for round_ in range(args.rounds):
        for name, predictor in predictors.items():
            start, cpu, done, calls = time.perf_counter(), time.process_time(), 0, 0
            while time.perf_counter() - start < args.seconds:
                batch = batches[calls % len(batches)]
                predictor.predict(batch)
                done, calls = done + len(batch), calls + 1
            wall, cpu = time.perf_counter() - start, time.process_time() - cpu
            print(
                f"{args.model} round {round_} {name}: {done / wall:.1f} rows/s, CPU {cpu / done * 1e3:.1f} ms/row "
                f"(load average {os.getloadavg()[0]:.1f})",
                flush=True,
            )


if __name__ == "__main__":
    main()
