"""Progress bars (rich) for the CLI's long commands: one bar per item (a model, a Space), advanced by the work.

The work takes a plain `Step` callback and knows nothing of rich; `bars` gives the CLI one that draws. On a console
that is not a terminal (a log, CI), rich draws nothing and the commands' own one-line messages remain.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

Step = Callable[[str, int, int | None], None]  # (item, steps done, steps in all or None when unknown)


def no_steps(item: str, done: int, total: int | None) -> None:
    """A Step that draws nothing (the default of the work's functions)."""


@contextlib.contextmanager
def bars(console: Console) -> Iterator[Step]:
    """A live set of bars on `console`, one per item the yielded Step names; removed when the block ends."""
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        tasks: dict[str, int] = {}

        def step(item: str, done: int, total: int | None) -> None:
            if item not in tasks:
                tasks[item] = progress.add_task(item, total=total)
            progress.update(tasks[item], completed=done, total=total)

        yield step
