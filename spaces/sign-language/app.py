"""Sign-language letters: show a hand sign (photo, webcam or sketch), get the 5 likeliest letters."""

from collections.abc import Mapping
from pathlib import Path

import gradio as gr

from shared.server import serve_space
from shared.service import Service
from shared.ui import image_classifier_panel, page

HERE = Path(__file__).parent
TITLE = "Sign-language letters"
DESCRIPTION = (
    "A small CNN reads a 28×28 gray crop of one hand and names the American Sign Language letter "
    "(24 static letters: A–Y without J). Crop the photo to the hand for the best answer."
)


def build_demo(services: Mapping[str, Service]) -> gr.Blocks:
    """The Space's page around its model's service."""
    with page(TITLE, DESCRIPTION, services) as demo:
        image_classifier_panel(
            services["sign-language"],
            thing="hand sign",
            examples=sorted((HERE / "examples").glob("*.png")),
            examples_label="Examples (hand signs of the test split)",
            sketch=True,
        )
    return demo


if __name__ == "__main__":  # the page at /, and TF Serving's REST API at /v1/models/<model> in the same process
    serve_space(build_demo, HERE)
