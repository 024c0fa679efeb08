"""Keras basics: draw a digit and see its class probabilities; fill in a California block group and get a price."""

from collections.abc import Mapping
from pathlib import Path

import gradio as gr

from shared.features import read_examples_csv
from shared.server import serve_space
from shared.service import Service
from shared.ui import image_classifier_panel, model_note, page, regression_form_panel

HERE = Path(__file__).parent
TITLE = "Keras basics"
DESCRIPTION = (
    "Two small networks from the Keras tutorial, both running as `.tflite` on LiteRT: a Dense network "
    "(300-100-10) that reads handwritten digits, and a wide & deep regressor for California house prices."
)


def build_demo(services: Mapping[str, Service]) -> gr.Blocks:
    """The Space's page with both models: a Digit tab and a House price tab."""
    digits, housing = services["digits"], services["housing"]
    with page(TITLE, DESCRIPTION, services) as demo, gr.Tabs():
        with gr.Tab("Digit"):
            gr.Markdown(model_note(digits.spec), elem_id="digits-note")
            image_classifier_panel(
                digits,
                thing="digit",
                examples=sorted((HERE / "examples" / "digits").glob("*.png")),
                sketch=True,
                sketch_first=True,
                top_k=3,
                chart=True,
                api_name="digit",
            )
        with gr.Tab("House price"):
            gr.Markdown(model_note(housing.spec), elem_id="housing-note")
            regression_form_panel(
                housing,
                examples=read_examples_csv(HERE / "examples" / "housing" / "examples.csv"),
                examples_label="Examples (block groups of the test split)",
                api_name="price",
            )
    return demo


if __name__ == "__main__":  # the page at /, and TF Serving's REST API at /v1/models/<model> in the same process
    serve_space(build_demo, HERE)
