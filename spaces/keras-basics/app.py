"""Keras basics: draw a digit and see its class probabilities; fill in a California block group and get a price."""

from pathlib import Path

import gradio as gr

from shared.classifier import ImageClassifier
from shared.regressor import TabularRegressor
from shared.rest import load_rest_models, serve_space
from shared.ui import (
    MAX_UPLOAD,
    SESSION_CAPACITY,
    image_classifier_panel,
    model_note,
    read_examples_csv,
    regression_form_panel,
)

HERE = Path(__file__).parent
TITLE = "Keras basics"
DESCRIPTION = (
    "Two small networks from the Keras tutorial, both running as `.tflite` on LiteRT: a Dense network "
    "(300-100-10) that reads handwritten digits, and a wide & deep regressor for California house prices."
)


def build_demo(model_dir: Path = HERE / "model") -> gr.Blocks:
    """The Space's page with both models loaded once: a Digit tab and a House price tab."""
    digits = ImageClassifier.from_artifact(model_dir / "digits")
    housing = TabularRegressor.from_artifact(model_dir / "housing")
    with gr.Blocks(title=TITLE) as page:
        gr.Markdown(f"# {TITLE}\n{DESCRIPTION}")
        with gr.Tabs():
            with gr.Tab("Digit"):
                gr.Markdown(model_note(digits.spec), elem_id="digits-note")
                image_classifier_panel(
                    digits,
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
                    api_name="price",
                )
    page.state_session_capacity = SESSION_CAPACITY
    return page


if __name__ == "__main__":  # the page at /, and TF Serving's REST API at /v1/models/<model> in the same process
    serve_space(build_demo(), load_rest_models(HERE / "model"), max_file_size=MAX_UPLOAD, space=HERE.name)
