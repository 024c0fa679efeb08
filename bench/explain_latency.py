"""What one explanation costs (`shared.explain`, as the page's explain endpoint and REST `:explain` run it), per
classifier of the bundled Spaces, against the budgets: <= 100 ms for a 28x28 image, <= 1 s for a 224x224 one. The
time of one plain forward pass is printed beside it, for scale (on a busy machine both grow alike).

Each model explains its own bundled examples in turn (`--rounds` times, after one warm-up round) in this process,
with LiteRT on 2 threads as a Space runs it; printed: input size, forward passes per explanation, p50 and
p90 wall time, and the budget where there is one. The model's load, the decoding of the example and the answer
itself are included (`explain` prepares the instance and runs it in the same batch as its occluded copies).

Run from the repository root after the pipeline (the tiny pipeline's bird model is 64x64; the default one is
MobileNetV2 at 224x224)::

    .venv/bin/python bench/explain_latency.py
    .venv/bin/python bench/explain_latency.py --spaces /path/to/dist/spaces --rounds 20
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from shared.artifact import ImageInput  # noqa: E402
from shared.explain import explain, image_grid  # noqa: E402
from shared.service import load_model  # noqa: E402
from shared.suite import find_spaces, model_specs  # noqa: E402
from training.deploy import examples  # noqa: E402

BUDGET_S = {28: 0.100, 224: 1.0}  # by image side


def forwards(model, instance) -> int:
    """Forward passes in one explanation: the instance, plus one per patch, word read or feature varied."""
    spec_input = model.spec.input
    if isinstance(spec_input, ImageInput):
        rows, cols = image_grid(spec_input.height, spec_input.width)
        return 1 + rows * cols
    _, explanation = explain(model, instance)
    return 1 + explanation.weights.size if explanation.unit == "probability" else 1


def one_pass(model, instance, rounds: int) -> float:
    """The median seconds of one plain forward pass on the prepared instance (the answer alone), for scale."""
    prepared = model.prepare(instance)
    seconds = []
    for _ in range(rounds):
        start = time.perf_counter()
        model.run(prepared.inputs)
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds)


def measure(model, instances: list, rounds: int) -> list[float]:
    """Seconds per explanation, every instance `rounds` times after one warm-up round."""
    for instance in instances:
        explain(model, instance)
    seconds = []
    for _ in range(rounds):
        for instance in instances:
            start = time.perf_counter()
            explain(model, instance)
            seconds.append(time.perf_counter() - start)
    return seconds


def main() -> None:
    """Print one line per classifier: input, forward passes, one pass alone, p50 / p90 of an explanation, budget."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spaces", type=Path, default=REPO / "dist" / "spaces", help="bundled Spaces")
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    print(f"{'model':<15} {'input':<14} {'passes':>6} {'1 pass ms':>9} {'p50 ms':>8} {'p90 ms':>8}  budget")
    for space in find_spaces(args.spaces):
        for spec in model_specs(space):
            if not spec.labels:
                continue
            folder = space / "model" if (space / "model" / "spec.json").is_file() else space / "model" / spec.name
            model = load_model(folder)
            shown = examples(space, spec)
            instances = [str(path) for path in shown] if spec.input.kind == "image" else shown
            seconds = sorted(measure(model, instances, args.rounds))
            p50, p90 = statistics.median(seconds), seconds[int(0.9 * (len(seconds) - 1))]
            if isinstance(spec.input, ImageInput):
                side = spec.input.height
                size = f"{side}x{spec.input.width}x{spec.input.channels}"
                budget = BUDGET_S.get(side)
                verdict = f"<= {budget * 1000:.0f} ms: {'met' if p50 <= budget else 'MISSED'}" if budget else "-"
            else:
                size, verdict = spec.input.kind, "-"
            passes, single = forwards(model, instances[0]), one_pass(model, instances[0], 5 * args.rounds)
            print(
                f"{spec.name:<15} {size:<14} {passes:>6} {single * 1000:>9.1f} {p50 * 1000:>8.1f} {p90 * 1000:>8.1f}"
                f"  {verdict}"
            )


if __name__ == "__main__":
    main()
