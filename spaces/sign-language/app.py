"""Sign-language letters: show a hand sign (photo, webcam or sketch), get the 5 likeliest letters."""

from pathlib import Path

import gradio as gr

from shared.classifier import ImageClassifier
from shared.ui import MAX_UPLOAD, SESSION_CAPACITY, image_classifier_page

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


if __name__ == "__main__":
    build_demo().launch(max_file_size=MAX_UPLOAD, state_session_capacity=SESSION_CAPACITY)
