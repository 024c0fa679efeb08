"""Space cards the Hub accepts: the README front matter of a bundled Space, checked against the rules of the Hub's
Spaces configuration reference before anything is uploaded (the Hub refuses a card that breaks them, and a deploy
would then publish nothing).
"""

from __future__ import annotations

import re
from pathlib import Path

from shared.errors import SpacesuiteError

SHORT_DESCRIPTION_MAX = 60
COLORS = frozenset({"red", "yellow", "green", "blue", "indigo", "purple", "pink", "gray"})
SDKS = frozenset({"gradio", "docker", "static"})
DEFAULT_APP_FILE = {"gradio": "app.py", "static": "index.html"}
# The license this repository carries (its LICENSE file); a card may only claim that one.
REPO_LICENSE = "apache-2.0"
LICENSE_FILE = Path("LICENSE")
REPO_ID = re.compile(r"^[\w.-]+/[\w.-]+$")


class CardError(SpacesuiteError):
    """A Space card breaks a rule of the Hub's Spaces configuration; the message names every broken rule."""


def card_problems(readme: Path, *, gradio_version: str, license_id: str = REPO_LICENSE) -> list[str]:
    """Every rule of the Spaces configuration reference that the card at `readme` breaks ([] when it is valid).

    Checked: the front matter parses; title and emoji are set; `sdk` is gradio, docker or static; a gradio Space's
    `sdk_version` is `gradio_version` (the Gradio the bundle pins); `app_file` exists beside the README;
    `short_description` has at most 60 characters; `colorFrom`/`colorTo` are allowed colors; `license` is
    `license_id`; `models` and `datasets` are lists of `owner/name` Hub repo ids.
    """
    from huggingface_hub import SpaceCard

    try:
        data = SpaceCard.load(readme).data.to_dict()
    except Exception as error:  # a missing or unparsable front matter: the Hub would refuse it too
        return [f"the front matter does not parse ({error})"]
    problems = []
    for key in ("title", "emoji"):
        if not str(data.get(key) or "").strip():
            problems.append(f"{key} is missing")
    sdk = data.get("sdk")
    if sdk not in SDKS:
        problems.append(f"sdk is {sdk!r}, not one of {', '.join(sorted(SDKS))}")
    if sdk == "gradio" and str(data.get("sdk_version")) != gradio_version:
        problems.append(f"sdk_version is {data.get('sdk_version')!r}, not the pinned Gradio {gradio_version}")
    app_file = data.get("app_file") or DEFAULT_APP_FILE.get(str(sdk), "")
    if app_file and not (readme.parent / app_file).is_file():
        problems.append(f"app_file {app_file} is not in the Space")
    description = str(data.get("short_description") or "")
    if len(description) > SHORT_DESCRIPTION_MAX:
        problems.append(f"short_description has {len(description)} characters, more than {SHORT_DESCRIPTION_MAX}")
    for key in ("colorFrom", "colorTo"):
        if data.get(key) not in COLORS:
            problems.append(f"{key} is {data.get(key)!r}, not one of {', '.join(sorted(COLORS))}")
    if data.get("license") != license_id:
        problems.append(f"license is {data.get('license')!r}, but the repository carries {license_id}")
    for key in ("models", "datasets"):
        repos = data.get(key) or []
        if not isinstance(repos, list) or not all(isinstance(r, str) and REPO_ID.match(r) for r in repos):
            problems.append(f"{key} must be a list of Hub repo ids (owner/name), not {repos!r}")
    return problems


def check_card(readme: Path, *, gradio_version: str) -> None:
    """Raise CardError, in one line naming the file and every broken rule, when the card is not valid."""
    problems = card_problems(readme, gradio_version=gradio_version)
    if problems:
        raise CardError(f"{readme}: the Hub would refuse this Space card: {'; '.join(problems)}")


def space_sdk(readme: Path) -> str:
    """The `sdk` a Space card declares (gradio, docker or static); gradio when the card names none."""
    from huggingface_hub import SpaceCard

    return str(SpaceCard.load(readme).data.to_dict().get("sdk") or "gradio")
