"""Gender from facial measurements: fill in seven features, get the class with its probability."""

from collections.abc import Mapping
from pathlib import Path

import gradio as gr

from shared.features import read_examples_csv
from shared.server import serve_space
from shared.service import Service
from shared.ui import classification_form_panel, page

HERE = Path(__file__).parent
TITLE = "Gender from facial measurements"
DESCRIPTION = (
    "A scikit-learn pipeline predicts Male or Female from five yes/no features and two forehead "
    "measurements. The pipeline trained GaussianNB and LogisticRegression, compared them in MLflow, "
    "and kept the better one; the note below says which."
)


def build_demo(services: Mapping[str, Service]) -> gr.Blocks:
    """The Space's page around its model's service."""
    service = services["gender"]
    with page(TITLE, DESCRIPTION, services) as demo:
        gr.Markdown(f"Kept pipeline: **{service.spec.trained_with.get('pipeline', '?')}**.", elem_id="pipeline-note")
        classification_form_panel(
            service,
            examples=read_examples_csv(HERE / "examples" / "examples.csv"),
            examples_label="Examples (people of the test split)",
        )
    return demo


if __name__ == "__main__":  # the page at /, and TF Serving's REST API at /v1/models/<model> in the same process
    serve_space(build_demo, HERE)
