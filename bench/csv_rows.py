"""What a CSV of rows costs a tabular Space (`shared.csv_rows.predict_csv`, as the page's `/<endpoint>_csv` runs it):
a file of `MAX_CSV_ROWS` rows, the Space's bundled examples over and over with one bad row in every hundred,
read, checked row by row, answered in one request through the model's Service and written back.

Printed per tabular model: rows, file size, p50 and max wall time over `--rounds` (after one warm-up), rows per
second. Run from the repository root after the pipeline::

    .venv/bin/python bench/csv_rows.py
    .venv/bin/python bench/csv_rows.py --spaces /path/to/dist/spaces --rounds 5
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from shared.artifact import TabularInput  # noqa: E402
from shared.csv_rows import MAX_CSV_ROWS, predict_csv  # noqa: E402
from shared.service import Service, load_model  # noqa: E402
from shared.suite import find_spaces, model_specs  # noqa: E402
from training.deploy import examples  # noqa: E402


def full_csv(path: Path, header: list[str], rows: list[list], count: int) -> Path:
    """A CSV of `count` rows cycling `rows`, every hundredth with its first cell spoiled."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for index in range(count):
            row = ["" if cell is None else cell for cell in rows[index % len(rows)]]
            writer.writerow(["not a number", *row[1:]] if index % 100 == 99 else row)
    return path


def main() -> None:
    """Print the figures of every tabular model of the bundled Spaces."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spaces", type=Path, default=REPO / "dist" / "spaces")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(f"{'model':<10} {'rows':>6} {'KiB':>6} {'p50 s':>7} {'max s':>7} {'rows/s':>8} {'refused':>8}")
    with tempfile.TemporaryDirectory() as scratch:
        for space in find_spaces(args.spaces):
            single = (space / "model" / "spec.json").is_file()
            for spec in model_specs(space):
                if not isinstance(spec.input, TabularInput):
                    continue
                service = Service(load_model(space / "model" if single else space / "model" / spec.name))
                header = [feature.name for feature in spec.input.features]
                path = full_csv(Path(scratch) / f"{spec.name}.csv", header, examples(space, spec), MAX_CSV_ROWS)
                predict_csv(service, "bench_csv", path)  # warm-up
                times, refused = [], 0
                for _ in range(args.rounds):
                    start = time.perf_counter()
                    _, errors, _ = predict_csv(service, "bench_csv", path)
                    times.append(time.perf_counter() - start)
                    refused = len({error.row for error in errors})
                p50 = statistics.median(times)
                size = path.stat().st_size / 1024
                print(
                    f"{spec.name:<10} {MAX_CSV_ROWS:>6,} {size:>6.0f} {p50:>7.3f} {max(times):>7.3f} "
                    f"{MAX_CSV_ROWS / p50:>8,.0f} {refused:>8,}"
                )


if __name__ == "__main__":
    main()
