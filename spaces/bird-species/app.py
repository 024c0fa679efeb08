"""Parrot species: upload a photo, get the species with its confidence and a bar chart of all four."""

from pathlib import Path

import gradio as gr

from shared.classifier import ImageClassifier
from shared.rest import load_rest_models, serve_space
from shared.ui import MAX_UPLOAD, image_classifier_page

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


if __name__ == "__main__":  # the page at /, and TF Serving's REST API at /v1/models/<model> in the same process
    serve_space(build_demo(), load_rest_models(HERE / "model"), max_file_size=MAX_UPLOAD, space=HERE.name)
