"""Which extra of the `spacesuite` package brings a module, so that a missing one is named in one sentence.

`pip install -e .` installs the `spacesuite` command with the Space runtime only; the pipeline needs the `train`
extra and the drift job the `drift` extra plus SDV. SDV is the exception: its ctgan and deepecho requirements pull
in torch (GBs) for synthesizers the default (GaussianCopula) never uses, so it is installed without its
dependencies, which the `drift` extra declares instead.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

from shared.errors import SpacesuiteError

PACKAGE = "spacesuite"
CHECKOUT = Path(__file__).resolve().parents[1]
SDV_INSTALL = "pip install --no-deps sdv==2.0.0"
# import name → distribution, where they differ beyond case and - / _ / .
DISTRIBUTIONS = {
    "sklearn": "scikit-learn",
    "yaml": "pyyaml",
    "tensorflow": "tensorflow-cpu",
    "mlflow": "mlflow-skinny",
    "google": "tensorflow-cpu",  # protobuf, imported through TensorFlow
}
HINTS = {
    "sdv": (
        f"the drift job needs SDV, installed without its torch-only dependencies: `{SDV_INSTALL}` after "
        "`pip install -e '.[train,drift]'` (scripts/bootstrap.sh does both; the `sdv` extra installs it with torch)"
    ),
}


class MissingExtra(SpacesuiteError):
    """A module that an extra of the package (or SDV) brings is not installed; the message says what to run."""


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirements(package: str) -> dict[str, list[str]]:
    """Each extra's requirement strings: from the checkout's pyproject.toml when this code runs from one (an
    editable install's metadata is as old as its last `pip install`), else from the installed metadata."""
    pyproject = CHECKOUT / "pyproject.toml"
    if pyproject.is_file():
        with pyproject.open("rb") as handle:
            return tomllib.load(handle)["project"].get("optional-dependencies", {})
    extras: dict[str, list[str]] = {}
    try:
        lines = importlib.metadata.requires(package) or []
    except importlib.metadata.PackageNotFoundError:
        return extras
    for line in lines:
        requirement = Requirement(line)
        for extra in re.findall(r'extra\s*==\s*"([^"]+)"', str(requirement.marker or "")):
            extras.setdefault(extra, []).append(line)
    return extras


def declared_extras(distribution: str, package: str = PACKAGE) -> list[str]:
    """The extras of `package` whose requirements name `distribution` (in declaration order; empty when none)."""
    wanted = _normalized(distribution)
    return [
        extra
        for extra, lines in _requirements(package).items()
        if any(_normalized(Requirement(line).name) == wanted for line in lines)
    ]


def install_hint(module: str, command: str | None = None) -> str:
    """One sentence: what to install for `module` (a failed import's name) to run `command` (`spacesuite drift`)."""
    top = module.split(".")[0]
    if top in HINTS:
        return HINTS[top]
    who = f"`{command}`" if command else "this command"
    extras = declared_extras(DISTRIBUTIONS.get(top, top))
    if not extras:
        return f"{who} needs the Python package {top!r}, which is not installed"
    return (
        f"{who} needs the {' or '.join(extras)} extra (no module named {top!r}): "
        f"pip install -e '.[{extras[0]}]' in the checkout"
    )


def require(module: str, command: str | None = None) -> None:
    """Raise MissingExtra with the install hint when `module` cannot be imported (checked before long work starts).

    Raises:
        MissingExtra: the module is not installed.
    """
    if importlib.util.find_spec(module) is None:
        raise MissingExtra(install_hint(module, command))
