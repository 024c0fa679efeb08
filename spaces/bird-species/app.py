"""Parrot species: upload a photo, get the species with its confidence and a bar chart of all four."""

from collections.abc import Mapping
from pathlib import Path

import gradio as gr

from shared.server import serve_space
from shared.service import Service
from shared.ui import image_classifier_panel, page

HERE = Path(__file__).parent
TITLE = "Parrot species"
DESCRIPTION = (
    "A MobileNetV2 with a small classification head tells four parrot species apart: amazon green "
    "parrot, gray parrot, macaw and white parrot. Any photo format works (JPEG, PNG, WebP, ...); "
    "a photo where the bird fills most of the frame works best."
)


def build_demo(services: Mapping[str, Service]) -> gr.Blocks:
    """The Space's page around its model's service."""
    with page(TITLE, DESCRIPTION, services) as demo:
        image_classifier_panel(
            services["bird-species"],
            thing="parrot",
            examples=sorted((HERE / "examples").glob("*.jpg")),
            examples_label="Examples (photos of the test split)",
            top_k=1,
            chart=True,
        )
    return demo


if __name__ == "__main__":  # the page at /, and TF Serving's REST API at /v1/models/<model> in the same process
    serve_space(build_demo, HERE)
