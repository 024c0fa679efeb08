"""The demos: one module each in this package, each defining one `DEMO` — everything that is particular to it.

A demo module holds its data layouts and readers, its deterministic sample generator, its model builder, its task,
labels and features, what its data is (per source), its params schema and the tiny params (with the floor a tiny
model must reach) the tests use. Everything else — stages, CLI, bundle, export, evaluate, drift, REST and UI —
looks at a demo's `task` and `framework`, never at its name.

Lookup is lazy: `demo("digits")` imports `training.demos.digits` only, so a stage imports (and `dvc.yaml` depends
on) the one demo it works on. The module name is the demo's params.yaml section (`sign-language` → `sign_language`).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

if TYPE_CHECKING:
    from pydantic import BaseModel

    from shared.artifact import Feature, Target

Task = Literal["image-classification", "text-classification", "tabular-classification", "regression"]
Framework = Literal["keras", "sklearn"]


@dataclass
class Ingested:
    """One demo's validated rows and where they came from.

    `x` rows (images, texts or feature rows), `y` class index or target, `labels` class names (empty for a
    regressor), `fold` (0: the data's training file, 1: its test file, 2: a third file), the files read, and row
    counts to show (per file or class).
    """

    x: np.ndarray
    y: np.ndarray
    labels: list[str]
    fold: np.ndarray
    files: list[Path]
    rows: dict[str, int]


@dataclass(frozen=True)
class RealCheck:
    """How the tests check the model on its real data (where an offline copy exists): params overrides that keep
    it quick, and the test metrics it must reach then (a maximum for rmse and mae)."""

    goal: Mapping[str, float]
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Demo:
    """One demo: what it predicts, its data and its model. Generic code reads `task` and `framework`."""

    name: str
    task: Task
    params: type[BaseModel]  # the schema of its params.yaml section (unknown keys rejected)
    read: Callable[[Path, Any], Ingested]  # (folder, data params) → validated rows; DataLayoutError names file/row
    write_sample: Callable[[Path, Any, int], list[Path]]  # (folder, data params, seed) → files written
    build: Callable[..., Any]  # keras: (section, splits) → network; sklearn: (section, seed) → {name: pipeline}
    descriptions: Mapping[str, str]  # data source (sample, kaggle, public) → what the data is, for the cards
    tiny: Mapping[str, Any]  # params overrides for the tests' pipeline run on the sample data
    floor: Mapping[str, float]  # test metrics a tiny model must reach on the sample (well above chance)
    framework: Framework = "keras"
    channels: int = 0  # image demos: 1 (gray) or 3 (RGB)
    framing: Literal["center-crop", "digit"] = "center-crop"  # image demos: how an upload is cropped
    features: Sequence[Feature] = ()  # tabular demos: the inputs, in order
    target: Target | None = None  # regressors: what the output is and how to show it
    fit: Callable[[Any], Any] | None = None  # keras demos with a training loop of their own (a `TrainingRun`)
    notes: Callable[[Any], dict[str, str]] = field(default=lambda section: {})  # training facts for the card
    converters: Mapping[str, Callable[[list[Path], Path], list[Path]]] = field(default_factory=dict)  # data fetch
    real_check: RealCheck | None = None  # the tests' check on the real data

    @property
    def section(self) -> str:
        """Its params.yaml section and module name (`sign-language` → `sign_language`)."""
        return section_of(self.name)

    @property
    def is_classifier(self) -> bool:
        """True for classifiers (stratified splits, accuracy, confusion matrix)."""
        return self.task != "regression"

    def inputs(self, rows: np.ndarray) -> np.ndarray:
        """Network input for stored rows: `shared.images.normalize` for images, float32 for features, int32 token
        ids for texts (prepare has already run `shared.text.preprocess`)."""
        if self.channels:
            from shared.images import normalize

            return normalize(rows, self.channels)
        return rows.astype(np.int32 if self.task == "text-classification" else np.float32)


def section_of(name: str) -> str:
    """A demo's params.yaml section and module name."""
    return name.replace("-", "_")


def names() -> list[str]:
    """Every demo's name, from the modules in this package (none is imported)."""
    modules = (info.name for info in pkgutil.iter_modules(__path__))
    return sorted(module.replace("_", "-") for module in modules if not module.startswith("_"))


def demo(name: str) -> Demo:
    """The demo called `name` (or by its section, `sign_language`); imports its module only.

    Raises:
        KeyError: no such demo (the message lists them).
    """
    name = name.replace("_", "-")
    if name not in names():
        raise KeyError(f"unknown model {name!r}; choose one of {', '.join(names())}")
    found = importlib.import_module(f"{__name__}.{section_of(name)}").DEMO
    assert found.name == name, f"training/demos/{section_of(name)}.py defines {found.name!r}"
    return found


def demos() -> list[Demo]:
    """Every demo (imports every demo module)."""
    return [demo(name) for name in names()]
