"""Gradio pieces every Space shares: the provenance note, error handling, an image classifier page."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import gradio as gr
from PIL import Image, UnidentifiedImageError

from shared.artifact import ModelSpec
from shared.classifier import ImageClassifier, Prediction
from shared.errors import InputError
from shared.images import MAX_PIXELS, READABLE_FORMATS

logger = logging.getLogger(__name__)
CONFUSION_IMAGE = "confusion.png"  # written into a Space's model/ folder by the bundle stage
SESSION_CAPACITY = 200  # Gradio keeps 10,000 sessions by default: RSS grew ~35 KiB per API call (bench/)
MAX_UPLOAD = "25mb"  # Gradio refuses larger uploads before they reach the app (pass to launch / mount)
F = TypeVar("F", bound=Callable[..., Any])


def model_note(spec: ModelSpec) -> str:
    """One Markdown paragraph: which data trained the model and how it scored on held-out data."""
    data = "**sample data**" if spec.data.source == "sample" else "**real data**"
    parts = [f"Model v{spec.version}, trained on {data}: {spec.data.description}."]
    if "accuracy" in spec.metrics:
        rows = int(spec.metrics.get("rows", 0))
        held_out = f" ({rows:,} held-out images)" if rows else ""
        parts.append(f"Test accuracy **{spec.metrics['accuracy']:.1%}**{held_out}.")
    if spec.data.source == "sample":
        parts.append("Its answers on real photos mean little until it is retrained on real data.")
    return " ".join(parts)


def user_errors(function: F) -> F:
    """Turn `InputError` into `gr.Error` (shown to the user); log anything else and answer without leaking it."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except InputError as error:
            raise gr.Error(str(error), print_exception=False) from error
        except gr.Error:
            raise
        except Exception as error:
            logger.exception("unexpected error in %s", function.__name__)
            raise gr.Error("Something went wrong on our side; the error was logged.", print_exception=False) from error

    return wrapper  # type: ignore[return-value]


class ImageUpload(gr.Image):
    """gr.Image that hands the uploaded file over undecoded (`shared.images` decodes and validates it once),
    and whose remaining upload errors reach the user as one clear sentence."""

    is_template = True  # render with the frontend of gr.Image

    def preprocess(self, payload: Any) -> Any:
        """The uploaded file's path; Gradio's own preprocessing only for inline (data: URL) images."""
        if payload is None:
            return None
        if payload.path and not (payload.url or "").startswith("data:"):
            return str(payload.path)
        try:
            return super().preprocess(payload)
        except Image.DecompressionBombError as error:
            raise gr.Error(f"The image is too large: at most {MAX_PIXELS // 1_000_000} megapixels.") from error
        except (UnidentifiedImageError, OSError, ValueError) as error:
            raise gr.Error(f"This file is not an image we can read ({READABLE_FORMATS}).") from error


def _answer(prediction: Prediction) -> tuple[dict[str, float], Any]:
    for note in prediction.notes:
        gr.Warning(note)
    return prediction.confidences, prediction.model_view


def image_classifier_page(
    classifier: ImageClassifier,
    *,
    title: str,
    description: str,
    examples: Sequence[Path] = (),
    sketch: bool = False,
    top_k: int = 5,
) -> gr.Blocks:
    """A complete Space page: image input (upload, webcam, paste; optionally a sketch tab), top-k labels,
    the pixels the model saw, examples, and the provenance note. API endpoints: `/predict` (and
    `/predict_sketch`)."""

    @user_errors
    def predict(image_path: str | None) -> tuple[dict[str, float], Any]:
        return _answer(classifier.classify(image_path))

    @user_errors
    def predict_sketch(editor: dict | None) -> tuple[dict[str, float], Any]:
        composite = (editor or {}).get("composite")
        if composite is None:
            raise InputError("Draw a hand sign on the sketchpad first.")
        return _answer(classifier.classify(composite))

    with gr.Blocks(title=title) as page:
        gr.Markdown(f"# {title}\n{description}")
        gr.Markdown(model_note(classifier.spec), elem_id="model-note")
        with gr.Row():
            with gr.Column(), gr.Tabs():
                with gr.Tab("Photo"):
                    image = ImageUpload(
                        type="filepath", sources=["upload", "webcam", "clipboard"], label="Image", height=320
                    )
                    classify = gr.Button("Classify", variant="primary")
                if sketch:
                    with gr.Tab("Sketch"):
                        pad = gr.Sketchpad(type="numpy", label="Draw", height=320)
                        classify_sketch = gr.Button("Classify sketch", variant="primary")
            with gr.Column():
                labels = gr.Label(num_top_classes=top_k, label="Prediction")
                seen = gr.Image(label="What the model sees", type="numpy", format="png", interactive=False, height=160)
        if examples:
            gr.Examples(
                [[str(p)] for p in examples], inputs=image, label="Examples", example_labels=[p.stem for p in examples]
            )
        confusion = classifier.predictor.model_path.parent / CONFUSION_IMAGE
        if confusion.is_file():
            with gr.Accordion("How good is the model? Confusion matrix of the test split", open=False):
                gr.Image(str(confusion), show_label=False, interactive=False, buttons=["fullscreen"])
        classify.click(predict, inputs=image, outputs=[labels, seen], api_name="predict")
        image.upload(predict, inputs=image, outputs=[labels, seen], api_visibility="private")
        if sketch:
            classify_sketch.click(predict_sketch, inputs=pad, outputs=[labels, seen], api_name="predict_sketch")
    page.state_session_capacity = SESSION_CAPACITY  # launch() takes it too; mounting keeps this value
    return page
