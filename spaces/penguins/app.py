"""Palmer penguins: the island, four measurements and the sex (any of them may be unknown) give the species."""

from collections.abc import Mapping
from pathlib import Path

import gradio as gr

from shared.features import read_examples_csv
from shared.server import serve_space
from shared.service import Service
from shared.ui import classification_form_panel, page

HERE = Path(__file__).parent
DESCRIPTION = (
    "A scikit-learn pipeline tells Adelie, Chinstrap and Gentoo penguins apart from where they live, four "
    "measurements and their sex. Leave what you do not know empty: the model fills it in as it learned to."
)


def build_demo(services: Mapping[str, Service]) -> gr.Blocks:
    """The Space's page around its model's service."""
    with page("Palmer penguins", DESCRIPTION, services) as demo:
        examples = read_examples_csv(HERE / "examples" / "examples.csv")
        classification_form_panel(services["penguins"], examples=examples, examples_label="Penguins of the test split")
    return demo


if __name__ == "__main__":  # the page at /, and TF Serving's REST API at /v1/models/<model> in the same process
    serve_space(build_demo, HERE)
