"""Sign-language letters: show a hand sign (photo, webcam or sketch), get the 5 likeliest letters."""

from pathlib import Path

import gradio as gr

from shared.classifier import ImageClassifier
from shared.rest import load_rest_models, serve_space
from shared.ui import MAX_UPLOAD, image_classifier_page

HERE = Path(__file__).parent
DESCRIPTION = (
    "A small CNN reads a 28×28 gray crop of one hand and names the American Sign Language letter "
    "(24 static letters: A–Y without J). Crop the photo to the hand for the best answer."
)


def build_demo(model_dir: Path = HERE / "model") -> gr.Blocks:
    """The Space's page, with its model loaded once."""
    return image_classifier_page(
        ImageClassifier.from_artifact(model_dir),
        title="Sign-language letters",
        description=DESCRIPTION,
        examples=sorted((HERE / "examples").glob("*.png")),
        sketch=True,
    )


if __name__ == "__main__":  # the page at /, and TF Serving's REST API at /v1/models/<model> in the same process
    serve_space(build_demo(), load_rest_models(HERE / "model"), max_file_size=MAX_UPLOAD, space=HERE.name)
