"""Every bundled Space answers its own examples with their own label, through its page (gradio_client), as the
deploy's smoke test calls it: a model that learned nothing, or a page that serves another preprocessing than
training's, fails here."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import running_space
from gradio_client import handle_file

from training.deploy import endpoint_for, examples, model_specs

pytestmark = [pytest.mark.integration, pytest.mark.slow]
SPACES = sorted(path.parent.name for path in (Path(__file__).parents[1] / "spaces").glob("*/app.py"))


def expected_labels(spec, shown: list) -> list[str]:
    """The true label of each bundled example: its file name (images), else its class (one per class, in label
    order)."""
    if spec.input.kind == "image":
        return [Path(path).stem for path in shown]
    return spec.labels[: len(shown)]


@pytest.mark.parametrize("space", SPACES)
def test_every_example_comes_back_as_its_own_label(spaces_dir: Path, space: str) -> None:
    bundle = spaces_dir / space
    with running_space(bundle) as client:
        api = client.view_api(print_info=False, return_format="dict")
        for spec in model_specs(bundle):
            if not spec.labels:
                continue  # a regressor's examples have no label
            shown = examples(bundle, spec)
            assert len(shown) >= min(len(spec.labels), 2), f"{spec.name}: {len(shown)} examples"
            endpoint = endpoint_for(api, spec)
            answers = []
            for example in shown:
                args = [handle_file(str(example))] if spec.input.kind == "image" else example
                result = client.predict(*(args if isinstance(args, list) else [args]), api_name=endpoint)
                answers.append((result[0] if isinstance(result, tuple | list) else result)["label"])
            assert answers == expected_labels(spec, shown), f"{spec.name} through {endpoint}"
