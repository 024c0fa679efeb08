"""Emotion in text: type a sentence, get the probability of sadness, joy, love, anger, fear and surprise."""

import json
from collections.abc import Mapping
from pathlib import Path

import gradio as gr

from shared.server import serve_space
from shared.service import Service
from shared.ui import page, text_classifier_panel

HERE = Path(__file__).parent
TITLE = "Emotion in text"
DESCRIPTION = (
    "A bidirectional LSTM reads a short English text and gives the probability of six emotions: "
    "sadness, joy, love, anger, fear and surprise. The same words go through the same preprocessing "
    "here as in training (`shared/text.py`)."
)


def build_demo(services: Mapping[str, Service]) -> gr.Blocks:
    """The Space's page around its model's service."""
    examples_file = HERE / "examples" / "examples.json"
    examples = json.loads(examples_file.read_text(encoding="utf-8")) if examples_file.is_file() else []
    with page(TITLE, DESCRIPTION, services) as demo:
        text_classifier_panel(
            services["emotion"],
            label="Emotion",
            placeholder="i feel like a kid on christmas morning",
            examples=examples,
            examples_label="Examples (texts of the test split)",
        )
    return demo


if __name__ == "__main__":  # the page at /, and TF Serving's REST API at /v1/models/<model> in the same process
    serve_space(build_demo, HERE)
