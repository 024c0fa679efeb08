"""Parrot species: upload a photo, get the species with its confidence and a bar chart of all four."""

from pathlib import Path

import gradio as gr

from shared.classifier import ImageClassifier
from shared.ui import MAX_UPLOAD, SESSION_CAPACITY, image_classifier_page

HERE = Path(__file__).parent
DESCRIPTION = (
    "A MobileNetV2 with a small classification head tells four parrot species apart: amazon green "
    "parrot, gray parrot, macaw and white parrot. Any photo format works (JPEG, PNG, WebP, ...); "
    "a photo where the bird fills most of the frame works best."
)


def build_demo(model_dir: Path = HERE / "model") -> gr.Blocks:
    """The Space's page, with its model loaded once."""
    return image_classifier_page(
        ImageClassifier.from_artifact(model_dir),
        title="Parrot species",
        description=DESCRIPTION,
        examples=sorted((HERE / "examples").glob("*.jpg")),
        top_k=1,
        chart=True,
    )


if __name__ == "__main__":
    build_demo().launch(max_file_size=MAX_UPLOAD, state_session_capacity=SESSION_CAPACITY)
