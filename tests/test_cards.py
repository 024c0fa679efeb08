"""Space cards the Hub accepts: every bundled README parsed with huggingface_hub's SpaceCard and checked against the
rules of the Spaces configuration reference; the bundle stage refuses an invalid card in one line."""

from __future__ import annotations

import shutil
from importlib.metadata import version as package_version
from pathlib import Path

import pytest
from conftest import REPO, run
from huggingface_hub import SpaceCard

from training.cards import COLORS, REPO_LICENSE, SHORT_DESCRIPTION_MAX, card_problems

GRADIO = package_version("gradio")
SPACES = sorted(path.parent.name for path in (REPO / "spaces").glob("*/README.md"))


def test_the_repository_carries_the_license_its_cards_claim() -> None:
    assert REPO_LICENSE == "apache-2.0"
    text = (REPO / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License" in text and "Version 2.0, January 2004" in text


@pytest.mark.parametrize("space", SPACES)
def test_every_space_template_is_a_valid_card(space: str) -> None:
    readme = REPO / "spaces" / space / "README.md"
    assert card_problems(readme, gradio_version=GRADIO) == []


@pytest.mark.slow
@pytest.mark.parametrize("space", SPACES)
def test_every_bundled_card_follows_the_hub_rules(spaces_dir: Path, space: str) -> None:
    bundle = spaces_dir / space
    data = SpaceCard.load(bundle / "README.md").data.to_dict()
    assert len(data["short_description"]) <= SHORT_DESCRIPTION_MAX
    assert data["colorFrom"] in COLORS and data["colorTo"] in COLORS
    if (REPO / "spaces" / space / "app.py").is_file():
        assert data["sdk"] == "gradio" and data["sdk_version"] == GRADIO
    else:  # a static Space: its page runs in the browser
        assert data["sdk"] == "static" and "sdk_version" not in data
    assert (bundle / data["app_file"]).is_file()
    assert data["license"] == REPO_LICENSE and (bundle / "LICENSE").read_bytes() == (REPO / "LICENSE").read_bytes()
    assert all("/" in repo for repo in data.get("datasets") or [])
    body = (bundle / "README.md").read_text(encoding="utf-8").split("\n---\n", 1)[1]
    assert body.lstrip().startswith("> **Trained on generated sample data")  # tiny models learn from samples
    assert card_problems(bundle / "README.md", gradio_version=GRADIO) == []


def test_card_problems_names_every_broken_rule(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text(
        "---\ntitle: x\nemoji: 🦜\ncolorFrom: orange\ncolorTo: blue\nsdk: gradio\nsdk_version: 5.0.0\n"
        "app_file: missing.py\nlicense: mit\nshort_description: " + "y" * 61 + "\ndatasets: dair-ai\n---\n# x\n",
        encoding="utf-8",
    )
    problems = " | ".join(card_problems(tmp_path / "README.md", gradio_version=GRADIO))
    for fragment in (
        "colorFrom is 'orange'",
        f"sdk_version is '5.0.0', not the pinned Gradio {GRADIO}",
        "app_file missing.py is not in the Space",
        "short_description has 61 characters",
        "license is 'mit'",
        "datasets must be a list of Hub repo ids",
    ):
        assert fragment in problems
    (tmp_path / "broken.md").write_text("no front matter at all", encoding="utf-8")
    assert card_problems(tmp_path / "broken.md", gradio_version=GRADIO)  # never raises


@pytest.mark.slow
def test_the_bundle_stage_refuses_an_invalid_card_and_keeps_the_last_bundle(tiny_repo: Path) -> None:
    template = tiny_repo / "spaces" / "gender" / "README.md"
    original = template.read_text(encoding="utf-8")
    bundle = tiny_repo / "dist" / "spaces" / "gender"
    before = (bundle / "README.md").read_bytes()
    long = "Male or Female from seven facial measurements, with GaussianNB and LogisticRegression"
    template.write_text(original.replace("short_description: ", f"short_description: {long} # ", 1), encoding="utf-8")
    try:
        result = run(["spacesuite", "bundle", "gender"], tiny_repo)
        output = result.stdout + result.stderr
        assert result.returncode == 1 and "Traceback" not in output
        assert "the Hub would refuse this Space card: short_description has" in output
        assert len([line for line in result.stderr.splitlines() if line.strip()]) == 1
        assert (bundle / "README.md").read_bytes() == before
    finally:
        template.write_text(original, encoding="utf-8")
        shutil.rmtree(bundle.with_name(".gender.staging"), ignore_errors=True)
