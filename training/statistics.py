"""Statistics stage: Evidently's data summary of the rows ingest kept (TFX's StatisticsGen), for a person to open.

The table is the one ingest validated against the schema (`training.schema.profile`); the report is
`build/<model>/statistics/statistics.html`, its values `statistics.json` beside it. It is its own stage, not part
of ingest, because nothing downstream reads it: the Spaces do not wait for Evidently (its import alone takes ~6 s
per model), and `spacesuite up` makes it after they serve.
"""

from __future__ import annotations

import numpy as np

from training.demos import Demo, Ingested
from training.paths import DemoPaths
from training.schema import profile, write_statistics


def main(demo: Demo) -> None:
    """Run the stage for a demo: read dataset.npz, write statistics.html and statistics.json."""
    paths = DemoPaths(demo.name)
    with np.load(paths.dataset) as dataset:
        rows = Ingested(
            x=dataset["x"], y=dataset["y"], labels=[str(label) for label in dataset["labels"]], fold=dataset["fold"],
            files=[], rows={},
        )  # fmt: skip
    values = write_statistics(profile(demo, rows), paths.statistics)
    count = int(values.get("RowCount()", len(rows.y)))
    print(f"statistics {demo.name}: {count} rows, {paths.statistics / 'statistics.html'}")
