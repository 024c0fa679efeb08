"""Emotion in text: type a sentence, get the probability of sadness, joy, love, anger, fear and surprise."""

import json
from pathlib import Path

import gradio as gr

from shared.rest import load_rest_models, serve_space
from shared.text_classifier import TextClassifier
from shared.ui import MAX_UPLOAD, SESSION_CAPACITY, model_note, text_classifier_panel

HERE = Path(__file__).parent
TITLE = "Emotion in text"
DESCRIPTION = (
    "A bidirectional LSTM reads a short English text and gives the probability of six emotions: "
    "sadness, joy, love, anger, fear and surprise. The same words go through the same preprocessing "
    "here as in training (`shared/text.py`)."
)


def build_demo(model_dir: Path = HERE / "model") -> gr.Blocks:
    """The Space's page, with its model loaded once."""
    classifier = TextClassifier.from_artifact(model_dir)
    examples_file = HERE / "examples" / "examples.json"
    examples = json.loads(examples_file.read_text(encoding="utf-8")) if examples_file.is_file() else []
    with gr.Blocks(title=TITLE) as page:
        gr.Markdown(f"# {TITLE}\n{DESCRIPTION}")
        gr.Markdown(model_note(classifier.spec), elem_id="model-note")
        text_classifier_panel(classifier, examples=examples)
    page.state_session_capacity = SESSION_CAPACITY
    return page


if __name__ == "__main__":  # the page at /, and TF Serving's REST API at /v1/models/<model> in the same process
    serve_space(build_demo(), load_rest_models(HERE / "model"), max_file_size=MAX_UPLOAD, space=HERE.name)
