"""Gradio pieces every Space shares: the provenance note, error handling, an image classifier page."""

from __future__ import annotations

import csv
import functools
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import gradio as gr
import pandas as pd
from PIL import Image, UnidentifiedImageError

from shared.artifact import Feature, ModelSpec
from shared.classifier import ImageClassifier, Prediction
from shared.errors import InputError
from shared.images import MAX_PIXELS, READABLE_FORMATS
from shared.metrics import observed, record_prediction, register_model
from shared.regressor import TabularRegressor
from shared.sklearn_classifier import TabularClassifier
from shared.text import MAX_CHARS
from shared.text_classifier import TextClassifier
from shared.traffic import traffic_settings

logger = logging.getLogger(__name__)
CONFUSION_IMAGE = "confusion.png"  # written into a model folder by the bundle stage (classifiers)
PREDICTIONS_IMAGE = "predictions.png"  # ... (regressors: predicted against actual)
SESSION_CAPACITY = 200  # Gradio keeps 10,000 sessions by default: RSS grew ~35 KiB per API call (bench/)
MAX_UPLOAD = "25mb"  # Gradio refuses larger uploads before they reach the app (pass to launch / mount)
F = TypeVar("F", bound=Callable[..., Any])


def model_note(spec: ModelSpec) -> str:
    """One Markdown paragraph: which data trained the model and how it scored on held-out data."""
    data = "**sample data**" if spec.data.source == "sample" else "**real data**"
    parts = [f"Model v{spec.version}, trained on {data}: {spec.data.description}."]
    rows = int(spec.metrics.get("rows", 0))
    kind = {"image": "images", "text": "texts"}.get(spec.input.kind, "rows")
    held_out = f" ({rows:,} held-out {kind})" if rows else ""
    if "accuracy" in spec.metrics:
        parts.append(f"Test accuracy **{spec.metrics['accuracy']:.1%}**{held_out}.")
    elif "rmse" in spec.metrics and spec.target is not None:
        error = format_amount(spec.metrics["rmse"] * spec.target.scale, spec.target.unit)
        parts.append(f"Typical error on test data (RMSE) **{error}**{held_out}.")
    if spec.data.source == "sample":
        parts.append("Its answers on real inputs mean little until it is retrained on real data.")
    notice = logging_notice(spec.input.kind)
    if notice:
        parts.append(notice)
    return " ".join(parts)


def logging_notice(input_kind: str) -> str:
    """One sentence telling users what the traffic log keeps of their request ("" when logging is off)."""
    folder, keep, _ = traffic_settings()
    if folder is None:
        return ""
    kept = {
        ("image", "images"): "the image as the model saw it",
        ("image", "safe"): "the image's brightness and contrast (never the image)",
        ("image", "stats"): "the image's brightness and contrast (never the image)",
        ("text", "stats"): "the text's length and word count (not the text)",
    }.get((input_kind, keep), "the text you typed" if input_kind == "text" else "the values you entered")
    return f"_Each answer is logged with {kept} and the prediction, to watch for drift._"


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


def monitored(model: str, endpoint: str) -> Callable[[F], F]:
    """Time and count each call in the Prometheus metrics (outcome, latency; the class mix when the answer's
    first part is {label: probability}). Put it under `user_errors`, which turns InputError into gr.Error."""

    def decorate(function: F) -> F:
        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with observed(model, endpoint):
                result = function(*args, **kwargs)
            first = result[0] if isinstance(result, list | tuple) else result
            if isinstance(first, dict):
                record_prediction(model, first)
            return result

        return wrapper  # type: ignore[return-value]

    return decorate


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


def probability_chart(confidences: dict[str, float]) -> pd.DataFrame:
    """Rows of (class, probability in %) for a gr.BarPlot of every class, likeliest first."""
    ranked = sorted(confidences.items(), key=lambda item: -item[1])
    return pd.DataFrame({"class": [label for label, _ in ranked], "probability": [100 * p for _, p in ranked]})


def image_classifier_panel(
    classifier: ImageClassifier,
    *,
    examples: Sequence[Path] = (),
    sketch: bool = False,
    sketch_first: bool = False,
    top_k: int = 5,
    chart: bool = False,
    api_name: str = "predict",
) -> None:
    """Image input (upload, webcam, paste; optionally a sketch tab), top-k labels, optionally a bar
    chart of every class, the pixels the model saw, examples and the test-split confusion matrix.

    Call inside a `gr.Blocks`. API endpoints: `/<api_name>` (and `/<api_name>_sketch`).
    """
    chart_rows = (lambda confidences: [probability_chart(confidences)]) if chart else (lambda confidences: [])
    kind = "digit" if classifier.spec.input.framing == "digit" else "hand sign"

    name = classifier.spec.name
    register_model(classifier.spec)

    @user_errors
    @monitored(name, api_name)
    def predict(image_path: str | None) -> list[Any]:
        confidences, view = _answer(classifier.classify(image_path))
        return [confidences, *chart_rows(confidences), view]

    @user_errors
    @monitored(name, f"{api_name}_sketch")
    def predict_sketch(editor: dict | None) -> list[Any]:
        composite = (editor or {}).get("composite")
        if composite is None:
            raise InputError(f"Draw a {kind} on the sketchpad first.")
        confidences, view = _answer(classifier.classify(composite))
        return [confidences, *chart_rows(confidences), view]

    def sketch_tab() -> tuple[gr.Sketchpad, gr.Button]:
        with gr.Tab("Sketch"):
            # digits: one thick black pen, like a marker on paper (MNIST strokes are ~1/10 of the box)
            brush = gr.Brush(default_size=24, colors=["#000000"], color_mode="fixed") if kind == "digit" else None
            pad = gr.Sketchpad(type="numpy", label=f"Draw a {kind}", height=320, brush=brush)
            return pad, gr.Button("Classify sketch", variant="primary")

    with gr.Row():
        with gr.Column(), gr.Tabs():
            if sketch and sketch_first:
                pad, classify_sketch = sketch_tab()
            with gr.Tab("Photo" if not sketch_first else "Upload"):
                image = ImageUpload(
                    type="filepath", sources=["upload", "webcam", "clipboard"], label="Image", height=320
                )
                classify = gr.Button("Classify", variant="primary")
            if sketch and not sketch_first:
                pad, classify_sketch = sketch_tab()
        with gr.Column():
            outputs: list[Any] = [gr.Label(num_top_classes=top_k, label="Prediction")]
            if chart:
                outputs.append(
                    gr.BarPlot(
                        probability_chart(dict.fromkeys(classifier.spec.labels, 0.0)),
                        x="class", y="probability", y_lim=[0, 100], label="Every class (%)", sort="-y", height=220,
                    )
                )  # fmt: skip
            outputs.append(
                gr.Image(label="What the model sees", type="numpy", format="png", interactive=False, height=160)
            )
    if examples:
        label = "Examples (they open in the Upload tab)" if sketch_first else "Examples"
        gr.Examples([[str(p)] for p in examples], inputs=image, label=label, example_labels=[p.stem for p in examples])
    confusion = classifier.predictor.model_path.parent / CONFUSION_IMAGE
    if confusion.is_file():
        with gr.Accordion("How good is the model? Confusion matrix of the test split", open=False):
            gr.Image(str(confusion), show_label=False, interactive=False, buttons=["fullscreen"])
    classify.click(predict, inputs=image, outputs=outputs, api_name=api_name)
    image.upload(predict, inputs=image, outputs=outputs, api_visibility="private")
    if sketch:
        classify_sketch.click(predict_sketch, inputs=pad, outputs=outputs, api_name=f"{api_name}_sketch")


def image_classifier_page(
    classifier: ImageClassifier,
    *,
    title: str,
    description: str,
    examples: Sequence[Path] = (),
    sketch: bool = False,
    top_k: int = 5,
    chart: bool = False,
) -> gr.Blocks:
    """A complete Space page around `image_classifier_panel`: title, description and provenance note.
    API endpoints: `/predict` (and `/predict_sketch`)."""
    with gr.Blocks(title=title) as page:
        gr.Markdown(f"# {title}\n{description}")
        gr.Markdown(model_note(classifier.spec), elem_id="model-note")
        image_classifier_panel(classifier, examples=examples, sketch=sketch, top_k=top_k, chart=chart)
    page.state_session_capacity = SESSION_CAPACITY  # launch() takes it too; mounting keeps this value
    return page


def read_examples_csv(path: Path) -> list[list[float]]:
    """Rows of a bundled examples CSV (header: feature names) as numbers; [] when the Space has none."""
    if not path.is_file():
        return []
    with path.open(encoding="utf-8") as handle:
        return [[float(value) for value in row] for row in list(csv.reader(handle))[1:]]


def format_amount(value: float, unit: str) -> str:
    """`$206,300` for dollars (rounded to hundreds), else the number and its unit."""
    if unit == "$":
        return f"${round(value, -2):,.0f}"
    return f"{value:,.3g} {unit}"


def regression_form_panel(
    regressor: TabularRegressor, *, examples: Sequence[Sequence[float]] = (), api_name: str = "predict"
) -> None:
    """A number field per feature (label, unit, accepted range, default), the prediction, and examples.

    Call inside a `gr.Blocks`. API endpoint: `/<api_name>` taking the features in order.
    """
    target = regressor.spec.target
    assert target is not None  # a TabularRegressor always has one

    register_model(regressor.spec)

    @user_errors
    @monitored(regressor.spec.name, api_name)
    def predict(*values: float | None) -> str:
        value = regressor.predict(list(values))
        return f"### {target.label}: **{format_amount(value, target.unit)}**"

    with gr.Row():
        with gr.Column():
            fields = _form_fields(regressor.features)
            estimate = gr.Button("Estimate", variant="primary")
        with gr.Column():
            answer = gr.Markdown(f"### {target.label}: fill the form and press Estimate", elem_id=f"{api_name}-answer")
            predictions = regressor.predictor.model_path.parent / PREDICTIONS_IMAGE
            if predictions.is_file():
                with gr.Accordion("How good is the model? Predicted against actual on the test split", open=False):
                    gr.Image(str(predictions), show_label=False, interactive=False, buttons=["fullscreen"])
    if examples:
        gr.Examples([list(row) for row in examples], inputs=fields, label="Examples (block groups of the test split)")
    estimate.click(predict, inputs=fields, outputs=answer, api_name=api_name)


def _form_fields(features: Sequence[Feature]) -> list[Any]:
    fields: list[Any] = []
    for feature in features:
        if feature.kind == "binary":
            fields.append(gr.Checkbox(value=bool(feature.default and feature.default >= 0.5), label=feature.label))
        else:
            unit = f" ({feature.unit})" if feature.unit else ""
            fields.append(
                gr.Number(
                    value=feature.default,
                    label=f"{feature.label}{unit}",
                    info=f"{feature.minimum:g} to {feature.maximum:g}",
                )
            )
    return fields


def classification_form_panel(
    classifier: TabularClassifier, *, examples: Sequence[Sequence[float]] = (), api_name: str = "predict"
) -> None:
    """Checkboxes for yes/no features, numbers (unit, accepted range, default) for measurements, and
    the class with its probability. Call inside a `gr.Blocks`. API endpoint: `/<api_name>`."""

    register_model(classifier.spec)

    @user_errors
    @monitored(classifier.spec.name, api_name)
    def predict(*values: float | bool | None) -> dict[str, float]:
        return classifier.predict_proba(list(values))

    with gr.Row():
        with gr.Column():
            fields = _form_fields(classifier.features)
            classify = gr.Button("Classify", variant="primary")
        with gr.Column():
            label = gr.Label(num_top_classes=len(classifier.spec.labels), label="Prediction")
            confusion = classifier.model_path.parent / CONFUSION_IMAGE
            if confusion.is_file():
                with gr.Accordion("How good is the model? Confusion matrix of the test split", open=False):
                    gr.Image(str(confusion), show_label=False, interactive=False, buttons=["fullscreen"])
    if examples:
        binary = [feature.kind == "binary" for feature in classifier.features]
        rows = [[bool(v) if is_binary else v for v, is_binary in zip(row, binary, strict=True)] for row in examples]
        gr.Examples(rows, inputs=fields, label="Examples (people of the test split)")
    classify.click(predict, inputs=fields, outputs=label, api_name=api_name)


def text_classifier_panel(
    classifier: TextClassifier, *, examples: Sequence[str] = (), api_name: str = "predict"
) -> None:
    """A text box, the probability of every class (label and bar chart), the words the model read, and
    examples. Call inside a `gr.Blocks`. API endpoint: `/<api_name>`."""

    register_model(classifier.spec)

    @user_errors
    @monitored(classifier.spec.name, api_name)
    def predict(text: str | None) -> tuple[dict[str, float], pd.DataFrame, str]:
        prediction = classifier.classify(text)
        for note in prediction.notes:
            gr.Warning(note)
        known = classifier.vocabulary
        words = " ".join(token if known.known_share([token]) else f"~~{token}~~" for token in prediction.tokens)
        return prediction.confidences, probability_chart(prediction.confidences), words

    with gr.Row():
        with gr.Column():
            text = gr.Textbox(
                label="Text", lines=3, max_length=MAX_CHARS, placeholder="i feel like a kid on christmas morning"
            )
            classify = gr.Button("Classify", variant="primary")
        with gr.Column():
            label = gr.Label(num_top_classes=len(classifier.spec.labels), label="Emotion")
            chart = gr.BarPlot(
                probability_chart(dict.fromkeys(classifier.spec.labels, 0.0)),
                x="class", y="probability", y_lim=[0, 100], label="Every class (%)", sort="-y", height=220,
            )  # fmt: skip
            words = gr.Markdown(
                label="Words the model read (struck through: unknown to it)", elem_id=f"{api_name}-words"
            )
    if examples:
        gr.Examples([[example] for example in examples], inputs=text, label="Examples (texts of the test split)")
    confusion = classifier.predictor.model_path.parent / CONFUSION_IMAGE
    if confusion.is_file():
        with gr.Accordion("How good is the model? Confusion matrix of the test split", open=False):
            gr.Image(str(confusion), show_label=False, interactive=False, buttons=["fullscreen"])
    classify.click(predict, inputs=text, outputs=[label, chart, words], api_name=api_name)
    text.submit(predict, inputs=text, outputs=[label, chart, words], api_visibility="private")
