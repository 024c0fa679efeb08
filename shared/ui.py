"""Gradio pieces every Space shares: the provenance note, error handling, and a panel per kind of model.

A panel answers through the model's `Service` (the call the REST API makes too) and says nothing about a
particular demo: what its inputs are called, and its examples, come from the Space's `app.py`.
"""

from __future__ import annotations

import base64
import binascii
import functools
import logging
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import gradio as gr
import pandas as pd
from gradio.components.base import server

import shared.limits as limits
from shared.artifact import CONFUSION_IMAGE, PREDICTIONS_IMAGE, Feature, ModelSpec, TabularInput
from shared.csv_rows import MAX_CSV_BYTES, MAX_CSV_ROWS, errors_markdown, predict_csv
from shared.errors import InputError
from shared.explain import Explanation, heat_map
from shared.features import MISSING, form_values
from shared.images import open_image
from shared.metrics import register_model
from shared.network import NetworkSummary
from shared.prediction import Prediction
from shared.service import Service
from shared.text import MAX_CHARS
from shared.traffic import traffic_settings

logger = logging.getLogger(__name__)
SESSION_CAPACITY = limits.SESSION_CAPACITY  # Gradio keeps 10,000 sessions by default: RSS grew ~35 KiB per call
MAX_UPLOAD = limits.MAX_UPLOAD_BYTES  # Gradio refuses larger uploads before they reach the app (pass to launch / mount)
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


def checked_image(payload: Any) -> str | bytes | None:
    """An uploaded image (Gradio's FileData, or bytes) as its path or bytes, undecoded, once `shared.images` has read
    its header: its format and declared size within the limits (a data: URL is decoded here, never by Gradio).

    Raises:
        gr.Error: not an image `shared.images` reads, or too large or too small (one sentence).
    """
    if payload is None:
        return None
    source: str | bytes | None = payload if isinstance(payload, bytes) else None
    url = getattr(payload, "url", None) or ""
    if source is None and url.startswith("data:"):
        try:
            source = base64.b64decode(url.partition(",")[2], validate=True)
        except (binascii.Error, ValueError) as error:
            raise gr.Error("The image's data URL is not valid base64.", print_exception=False) from error
    elif source is None:
        source = str(payload.path) if getattr(payload, "path", None) else None
    try:
        open_image(source).close()
    except InputError as error:
        raise gr.Error(str(error), print_exception=False) from error
    return source


class ImageUpload(gr.Image):
    """gr.Image that hands the uploaded file over undecoded (`shared.images` decodes and validates it once, within
    its limits), after checking its header; a refused upload reaches the user as one clear sentence."""

    is_template = True  # render with the frontend of gr.Image

    def preprocess(self, payload: Any) -> Any:
        """The uploaded file's path (or a data: URL's bytes), its header checked; never decoded here."""
        return checked_image(payload)


class SketchUpload(gr.Sketchpad):
    """gr.Sketchpad whose drawing reaches the app undecoded: the background, every layer and the composite are
    checked from their headers (Gradio would decode each at full size first), the composite is passed on as its
    path or bytes, and the images the browser sends ahead (`accept_blobs`) are checked and bounded in number."""

    def get_block_name(self) -> str:
        """The frontend of gr.ImageEditor, like gr.Sketchpad's."""
        return "imageeditor"

    def get_block_class(self) -> str:
        """See `get_block_name`."""
        return "imageeditor"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.blob_storage: OrderedDict = OrderedDict()  # oldest drawing first, dropped beyond SKETCH_PENDING

    def preprocess(self, payload: Any) -> Any:
        """`{"background": None, "layers": [], "composite": <path or bytes>}`, every image of the drawing checked."""
        if payload is None:
            return None
        drawing = self.blob_storage.pop(payload.id, None) if payload.id is not None else payload
        if drawing is None:
            raise gr.Error("The drawing was not received; please draw it again.", print_exception=False)
        layers = [layer for layer in drawing.layers or [] if layer is not None]
        if len(layers) > limits.SKETCH_LAYERS:
            raise gr.Error(f"The drawing has too many layers: at most {limits.SKETCH_LAYERS}.", print_exception=False)
        for image in (drawing.background, *layers):
            checked_image(image)
        return {"background": None, "layers": [], "composite": checked_image(drawing.composite)}

    @server
    def accept_blobs(self, data: Any) -> None:
        """Keep an image the browser sends ahead of the drawing's submission, checked: its header, the layer's index
        (at most SKETCH_LAYERS) and the number of drawings kept (the oldest is dropped)."""
        index = data.data.get("index")
        if index not in (None, "null", "") and not (str(index).isdigit() and int(index) < limits.SKETCH_LAYERS):
            raise gr.Error(f"The drawing has too many layers: at most {limits.SKETCH_LAYERS}.", print_exception=False)
        if not data.files:
            raise gr.Error("No image was sent.", print_exception=False)
        checked_image(data.files[0][1])
        super().accept_blobs(data)
        self.blob_storage.move_to_end(data.data["id"])
        while len(self.blob_storage) > limits.SKETCH_PENDING:
            self.blob_storage.popitem(last=False)


def _answer(prediction: Prediction) -> tuple[dict[str, float], Any]:
    for note in prediction.notes:
        gr.Warning(note)
    assert prediction.confidences is not None
    return prediction.confidences, prediction.view


def feedback_row(service: Service, request: gr.State, *, api_name: str = "predict") -> None:
    """A "Right" / "Wrong, it was: <label>" row under a classifier's answer: the verdict on the answer whose request
    id `request` holds goes to the traffic log and the metrics (`Service.feedback`). API endpoints:
    `/<api_name>_right` and `/<api_name>_wrong` (taking the true label), in the session that got the answer."""

    def judge(request_id: str | None, correct: bool, label: str | None) -> str:
        if not request_id:
            raise InputError("Get an answer first, then say whether it was right.")
        if not correct and not label:
            raise InputError("Pick the right label in the list first, then press Wrong.")
        verdict = service.feedback("page", request_id, correct=correct, label=None if correct else label)
        return "Thanks: noted as right." if correct else f"Thanks: noted, it was **{verdict.label}**."

    @user_errors
    def right(request_id: str | None) -> str:
        return judge(request_id, True, None)

    @user_errors
    def wrong(request_id: str | None, label: str | None) -> str:
        return judge(request_id, False, label)

    with gr.Row(equal_height=True):
        right_button = gr.Button("Right", size="sm", scale=1)
        truth = gr.Dropdown(choices=service.spec.labels, value=None, label="Wrong, it was:", scale=2)
        wrong_button = gr.Button("Wrong", size="sm", scale=1)
    said = gr.Markdown(elem_id=f"{api_name}-feedback")
    right_button.click(right, inputs=request, outputs=said, api_name=f"{api_name}_right")
    wrong_button.click(wrong, inputs=[request, truth], outputs=said, api_name=f"{api_name}_wrong")


def probability_chart(confidences: dict[str, float]) -> pd.DataFrame:
    """Rows of (class, probability in %) for a gr.BarPlot of every class, likeliest first."""
    ranked = sorted(confidences.items(), key=lambda item: -item[1])
    return pd.DataFrame({"class": [label for label, _ in ranked], "probability": [100 * p for _, p in ranked]})


def explain_api_name(api_name: str) -> str:
    """The page's explanation endpoint beside `/<api_name>`: `explain` beside `predict`, else `<api_name>_explain`."""
    return "explain" if api_name == "predict" else f"{api_name}_explain"


def _numbers() -> gr.JSON:
    with gr.Accordion("The explanation's numbers", open=False):
        return gr.JSON(label="Explanation")


def contribution_chart(explanation: Explanation, features: Sequence[Feature]) -> pd.DataFrame:
    """Rows of (feature label, weight) for a gr.BarPlot of what each feature added to the answer."""
    labels = {feature.name: feature.label for feature in features}
    return pd.DataFrame(
        {"feature": [labels.get(name, name) for name in explanation.names], "weight": explanation.weights.tolist()}
    )


def word_weights(explanation: Explanation) -> list[tuple[str, float]]:
    """The words with their weights scaled to [-1, 1] (the strongest is ±1), as gr.HighlightedText shows them."""
    strongest = float(abs(explanation.weights).max()) or 1.0
    pairs = zip(explanation.names, explanation.weights.tolist(), strict=True)
    return [(word, weight / strongest) for word, weight in pairs]


def _chart(spec: ModelSpec) -> gr.BarPlot:
    return gr.BarPlot(
        probability_chart(dict.fromkeys(spec.labels, 0.0)),
        x="class", y="probability", y_lim=[0, 100], label="Every class (%)", sort="-y", height=220,
    )  # fmt: skip


def _test_picture(service: Service, name: str, title: str) -> None:
    picture = service.folder / name
    if picture.is_file():
        with gr.Accordion(title, open=False):
            gr.Image(str(picture), show_label=False, interactive=False, buttons=["fullscreen"])


def answering_examples(
    rows: Sequence[Sequence[Any]],
    inputs: Any,
    answer: Callable[..., Any],
    outputs: Sequence[Any],
    explain: Callable[..., Any] | None = None,
    explanation: Sequence[Any] = (),
    *,
    label: str,
    api_name: str,
    example_labels: list[str] | None = None,
) -> gr.Examples:
    """Examples that answer on click: the example fills `inputs`, then `answer` runs as the button's call would (a
    real request through the model's Service, logged and counted) and `explain` after it. Never cached: each click
    gets its own request id (feedback refers to it), and the Hub would otherwise run every example at start-up.
    The two calls are private (`<api_name>_example` and `<api_name>_example_explain`, not in the API's list)."""
    examples = gr.Examples(
        [list(row) for row in rows], inputs=inputs, label=label, example_labels=example_labels, cache_examples=False
    )
    clicked = examples.load_input_event.then(
        answer, inputs=inputs, outputs=list(outputs), api_name=f"{api_name}_example", api_visibility="private"
    )
    if explain is not None:
        clicked.success(
            explain, inputs=inputs, outputs=list(explanation), api_name=f"{api_name}_example_explain",
            api_visibility="private",
        )  # fmt: skip
    return examples


def layer_rows(network: NetworkSummary) -> pd.DataFrame:
    """The network's layers as `model.summary()` lists them: layer, type, output shape, parameters."""
    return pd.DataFrame(
        {
            "layer": [layer.name for layer in network.layers],
            "type": [layer.type for layer in network.layers],
            "output shape": [layer.output_shape for layer in network.layers],
            "parameters": [layer.params for layer in network.layers],
        }
    )


def curve_rows(network: NetworkSummary, metric: str) -> pd.DataFrame:
    """One metric's per-epoch values on the training and validation splits, for a gr.LinePlot."""
    points = [point for point in network.curves if point.metric == metric]
    return pd.DataFrame(
        {
            "epoch": [point.epoch for point in points],
            metric: [point.value for point in points],
            "split": [point.split for point in points],
        }
    )


def network_accordion(service: Service, *, elem_id: str) -> None:
    """An accordion "The network" (closed): the layers with their parameter counts and the training curves, for a
    model whose folder has a `network.json` (a Keras model's export writes it); nothing otherwise."""
    network = NetworkSummary.load(service.folder)
    if network is None:
        return
    frozen = network.total_params - network.trainable_params
    with gr.Accordion("The network: its layers and how it learned", open=False, elem_id=elem_id):
        gr.Markdown(
            f"**{network.total_params:,} parameters** ({network.trainable_params:,} trainable, {frozen:,} not), in "
            f"{len(network.layers)} layers.",
            elem_id=f"{elem_id}-totals",
        )
        gr.Dataframe(layer_rows(network), label="Layers (Keras's model.summary())", interactive=False, max_height=320)
        metrics = list(dict.fromkeys(point.metric for point in network.curves))
        if metrics:
            with gr.Row():
                for metric in metrics:
                    gr.LinePlot(
                        curve_rows(network, metric), x="epoch", y=metric, color="split", height=220,
                        label=f"{metric} per epoch", x_title="epoch",
                    )  # fmt: skip


def csv_accordion(service: Service, *, api_name: str) -> None:
    """An accordion "Many rows: a CSV file" (closed): upload a .csv of rows (a header naming the features), get it
    back with the predictions appended and the refused rows named (`shared.csv_rows`). API endpoint:
    `/<api_name>_csv`."""

    @user_errors
    def predict_rows(upload: str | None) -> tuple[str, str]:
        if upload is None:
            raise InputError("Upload a .csv file of rows first.")
        path, errors, answered = predict_csv(service, f"{api_name}_csv", Path(upload))
        return str(path), errors_markdown(errors, answered)

    names = ",".join(feature.name for feature in _features(service))
    with gr.Accordion("Many rows: a CSV file", open=False, elem_id=f"{api_name}-csv"):
        gr.Markdown(
            f"A `.csv` with a header naming the columns (`{names}`; other columns are kept), at most "
            f"{MAX_CSV_ROWS:,} rows and {MAX_CSV_BYTES // 2**20} MiB. You get it back with the "
            "predictions appended; a row the model cannot answer is named, and the others are answered."
        )
        with gr.Row():
            upload = gr.File(label="Rows (.csv)", file_types=[".csv"], file_count="single", type="filepath")
            answered = gr.File(label="The rows with their predictions", interactive=False)
        report = gr.Markdown(elem_id=f"{api_name}-csv-report")
        gr.Button("Predict every row", variant="primary").click(
            predict_rows, inputs=upload, outputs=[answered, report], api_name=f"{api_name}_csv"
        )


def image_classifier_panel(
    service: Service,
    *,
    thing: str,
    examples: Sequence[Path] = (),
    examples_label: str = "Examples",
    sketch: bool = False,
    sketch_first: bool = False,
    top_k: int = 5,
    chart: bool = False,
    api_name: str = "predict",
) -> None:
    """Image input (upload, webcam, paste; optionally a sketch tab), top-k labels, optionally a bar chart of every
    class, the pixels the model saw, examples and the test split's confusion matrix. `thing` says what to show it
    ("hand sign", "digit").

    Under the answer, its explanation (occlusion heat map, and the numbers). Call inside a `gr.Blocks`. API
    endpoints: `/<api_name>` (and `/<api_name>_sketch`), and their explanations `/explain` (beside `/predict`, else
    `/<api_name>_explain`) and `/<explain>_sketch`, which return the heat map and the numbers.
    """
    spec = service.spec
    chart_rows = (lambda confidences: [probability_chart(confidences)]) if chart else (lambda confidences: [])
    explain_name = explain_api_name(api_name)
    register_model(spec)

    @user_errors
    def predict(image_path: str | None) -> list[Any]:
        if image_path is None:
            raise InputError(f"Upload, paste or shoot a picture of a {thing} first.")
        answers = service.answer(api_name, [image_path])
        confidences, view = _answer(answers[0])
        return [confidences, *chart_rows(confidences), view, answers.request_id]

    @user_errors
    def predict_sketch(editor: dict | None) -> list[Any]:
        composite = (editor or {}).get("composite")
        if composite is None:
            raise InputError(f"Draw a {thing} on the sketchpad first.")
        answers = service.answer(f"{api_name}_sketch", [composite])
        confidences, view = _answer(answers[0])
        return [confidences, *chart_rows(confidences), view, answers.request_id]

    def explained(endpoint: str, source: Any) -> list[Any]:
        prediction, explanation = service.explain(endpoint, [source])[0]
        assert prediction.pixels is not None
        return [heat_map(prediction.pixels, explanation.weights), explanation.to_json()]

    @user_errors
    def explain(image_path: str | None) -> list[Any]:
        if image_path is None:
            raise InputError(f"Upload, paste or shoot a picture of a {thing} first.")
        return explained(explain_name, image_path)

    @user_errors
    def explain_sketch(editor: dict | None) -> list[Any]:
        composite = (editor or {}).get("composite")
        if composite is None:
            raise InputError(f"Draw a {thing} on the sketchpad first.")
        return explained(f"{explain_name}_sketch", composite)

    def sketch_tab() -> tuple[gr.Sketchpad, gr.Button]:
        with gr.Tab("Sketch"):
            # a digit framed like MNIST: one thick black pen, like a marker on paper (strokes ~1/10 of the box)
            framed = spec.input.framing == "digit"  # type: ignore[union-attr]
            brush = gr.Brush(default_size=24, colors=["#000000"], color_mode="fixed") if framed else None
            pad = SketchUpload(type="numpy", label=f"Draw a {thing}", height=320, brush=brush)
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
                examples_here = gr.Column()  # the examples fill this tab's image: they are shown in it
            if sketch and not sketch_first:
                pad, classify_sketch = sketch_tab()
        with gr.Column():
            outputs: list[Any] = [gr.Label(num_top_classes=top_k, label="Prediction")]
            if chart:
                outputs.append(_chart(spec))
            request = gr.State("")  # the id of the answer shown, which feedback refers to
            feedback_row(service, request, api_name=api_name)
            outputs.append(
                gr.Image(label="What the model sees", type="numpy", format="png", interactive=False, height=160)
            )
            outputs.append(request)
            explanation = [
                gr.Image(
                    label="Why: the parts that raise the answer's probability (red) or lower it (blue)",
                    type="numpy", format="png", interactive=False, height=240, elem_id=f"{api_name}-why",
                ),
                _numbers(),
            ]  # fmt: skip
    if examples:
        with examples_here:
            answering_examples(
                [[str(p)] for p in examples], image, predict, outputs, explain, explanation,
                label=examples_label, api_name=api_name, example_labels=[p.stem for p in examples],
            )  # fmt: skip
    network_accordion(service, elem_id=f"{api_name}-network")
    _test_picture(service, CONFUSION_IMAGE, "How good is the model? Confusion matrix of the test split")
    # the answer first, then its explanation (one forward pass per patch) as a second call
    answered = classify.click(predict, inputs=image, outputs=outputs, api_name=api_name)
    answered.success(explain, inputs=image, outputs=explanation, api_name=explain_name)
    uploaded = image.upload(predict, inputs=image, outputs=outputs, api_visibility="private")
    uploaded.success(explain, inputs=image, outputs=explanation, api_visibility="private")
    if sketch:
        drawn = classify_sketch.click(predict_sketch, inputs=pad, outputs=outputs, api_name=f"{api_name}_sketch")
        drawn.success(explain_sketch, inputs=pad, outputs=explanation, api_name=f"{explain_name}_sketch")


def format_amount(value: float, unit: str) -> str:
    """`$206,300` for dollars (rounded to hundreds), else the number and its unit."""
    if unit == "$":
        return f"${round(value, -2):,.0f}"
    return f"{value:,.3g} {unit}"


def _features(service: Service) -> list[Feature]:
    assert isinstance(service.spec.input, TabularInput), f"{service.spec.name} takes no form"
    return service.spec.input.features


def regression_form_panel(
    service: Service,
    *,
    examples: Sequence[Sequence[Any]] = (),
    examples_label: str = "Examples",
    button: str = "Estimate",
    api_name: str = "predict",
) -> None:
    """A number field per feature (label, unit, accepted range, default), the prediction in the target's unit,
    examples and the test split's predicted-against-actual plot.

    Call inside a `gr.Blocks`. API endpoint: `/<api_name>` taking the features in order.
    """
    target = service.spec.target
    assert target is not None, f"{service.spec.name} is not a regressor"
    register_model(service.spec)

    @user_errors
    def predict(*values: float | None) -> str:
        value = service.answer(api_name, [list(values)])[0].value
        assert value is not None
        return f"### {target.label}: **{format_amount(value * target.scale, target.unit)}**"

    with gr.Row():
        with gr.Column():
            fields = _form_fields(_features(service))
            estimate = gr.Button(button, variant="primary")
        with gr.Column():
            answer = gr.Markdown(f"### {target.label}: fill the form and press {button}", elem_id=f"{api_name}-answer")
            _test_picture(
                service, PREDICTIONS_IMAGE, "How good is the model? Predicted against actual on the test split"
            )
    if examples:
        rows = [form_values(row, _features(service)) for row in examples]
        answering_examples(rows, fields, predict, [answer], label=examples_label, api_name=api_name)
    csv_accordion(service, api_name=api_name)
    network_accordion(service, elem_id=f"{api_name}-network")
    estimate.click(predict, inputs=fields, outputs=answer, api_name=api_name)


def _form_fields(features: Sequence[Feature]) -> list[Any]:
    fields: list[Any] = []
    for feature in features:
        if feature.kind == "binary":
            fields.append(gr.Checkbox(value=bool(feature.default and feature.default >= 0.5), label=feature.label))
        elif feature.kind == "category":
            choices = [*feature.choices, *([MISSING] if feature.optional else [])]
            default = feature.choices[int(feature.default)] if feature.default is not None else choices[0]
            fields.append(gr.Dropdown(choices=choices, value=default, label=feature.label))
        else:
            unit = f" ({feature.unit})" if feature.unit else ""
            empty = "; may be left empty" if feature.optional else ""
            fields.append(
                gr.Number(
                    value=feature.default,
                    label=f"{feature.label}{unit}",
                    info=f"{feature.minimum:g} to {feature.maximum:g}{empty}",
                )
            )
    return fields


def classification_form_panel(
    service: Service,
    *,
    examples: Sequence[Sequence[Any]] = (),
    examples_label: str = "Examples",
    api_name: str = "predict",
) -> None:
    """Checkboxes for yes/no features, numbers (unit, accepted range, default) for measurements, and the class with
    its probability, then what each value added to it. Call inside a `gr.Blocks`. API endpoints: `/<api_name>`, and
    `/explain` (beside `/predict`, else `/<api_name>_explain`): the contributions' chart and the numbers."""
    spec = service.spec
    features = _features(service)
    register_model(spec)

    @user_errors
    def predict(*values: float | bool | None) -> tuple[dict[str, float], str]:
        answers = service.answer(api_name, [list(values)])
        return _answer(answers[0])[0], answers.request_id

    @user_errors
    def explain(*values: float | bool | None) -> tuple[pd.DataFrame, dict]:
        _, explanation = service.explain(explain_api_name(api_name), [list(values)])[0]
        return contribution_chart(explanation, features), explanation.to_json()

    with gr.Row():
        with gr.Column():
            fields = _form_fields(features)
            classify = gr.Button("Classify", variant="primary")
        with gr.Column():
            label = gr.Label(num_top_classes=len(spec.labels), label="Prediction")
            request = gr.State("")  # the id of the answer shown, which feedback refers to
            feedback_row(service, request, api_name=api_name)
            contributions = gr.BarPlot(
                pd.DataFrame({"feature": [feature.label for feature in features], "weight": [0.0] * len(features)}),
                x="feature", y="weight", height=240,
                label="Why: what each value adds to the answer (log-odds, or the probability lost without it)",
                elem_id=f"{api_name}-why",
            )  # fmt: skip
            explanation = [contributions, _numbers()]
            _test_picture(service, CONFUSION_IMAGE, "How good is the model? Confusion matrix of the test split")
    if examples:
        rows = [form_values(row, features) for row in examples]
        answering_examples(
            rows, fields, predict, [label, request], explain, explanation, label=examples_label, api_name=api_name
        )
    csv_accordion(service, api_name=api_name)
    network_accordion(service, elem_id=f"{api_name}-network")
    answered = classify.click(predict, inputs=fields, outputs=[label, request], api_name=api_name)
    answered.success(explain, inputs=fields, outputs=explanation, api_name=explain_api_name(api_name))


def text_classifier_panel(
    service: Service,
    *,
    label: str = "Prediction",
    placeholder: str = "",
    examples: Sequence[str] = (),
    examples_label: str = "Examples",
    api_name: str = "predict",
) -> None:
    """A text box, the probability of every class (`label`, and a bar chart), the words the model read, each word's
    weight in the answer (leave-one-word-out), and examples. Call inside a `gr.Blocks`. API endpoints: `/<api_name>`,
    and `/explain` (beside `/predict`, else `/<api_name>_explain`): the weighted words and the numbers."""
    spec = service.spec
    vocabulary = service.model.vocabulary  # type: ignore[attr-defined]
    register_model(spec)

    @user_errors
    def predict(text: str | None) -> tuple[dict[str, float], pd.DataFrame, str, str]:
        answers = service.answer(api_name, [text])
        confidences, _ = _answer(answers[0])
        words = " ".join(t if vocabulary.known_share([t]) else f"~~{t}~~" for t in answers[0].tokens or [])
        return confidences, probability_chart(confidences), words, answers.request_id

    @user_errors
    def explain(text: str | None) -> tuple[list[tuple[str, float]], dict]:
        _, explanation = service.explain(explain_api_name(api_name), [text])[0]
        return word_weights(explanation), explanation.to_json()

    with gr.Row():
        with gr.Column():
            text = gr.Textbox(label="Text", lines=3, max_length=MAX_CHARS, placeholder=placeholder)
            classify = gr.Button("Classify", variant="primary")
        with gr.Column():
            outputs = [gr.Label(num_top_classes=len(spec.labels), label=label)]
            request = gr.State("")  # the id of the answer shown, which feedback refers to
            feedback_row(service, request, api_name=api_name)
            outputs.append(_chart(spec))
            outputs.append(
                gr.Markdown(label="Words the model read (struck through: unknown to it)", elem_id=f"{api_name}-words")
            )
            outputs.append(request)
            explanation = [
                gr.HighlightedText(
                    label="Why: the probability each word adds to the answer (red: for it, blue: against it)",
                    combine_adjacent=False, show_legend=False, elem_id=f"{api_name}-why",
                ),
                _numbers(),
            ]  # fmt: skip
    if examples:
        rows = [[example] for example in examples]
        answering_examples(rows, text, predict, outputs, explain, explanation, label=examples_label, api_name=api_name)
    network_accordion(service, elem_id=f"{api_name}-network")
    _test_picture(service, CONFUSION_IMAGE, "How good is the model? Confusion matrix of the test split")
    answered = classify.click(predict, inputs=text, outputs=outputs, api_name=api_name)
    answered.success(explain, inputs=text, outputs=explanation, api_name=explain_api_name(api_name))
    submitted = text.submit(predict, inputs=text, outputs=outputs, api_visibility="private")
    submitted.success(explain, inputs=text, outputs=explanation, api_visibility="private")


def page(title: str, description: str, services: dict[str, Service]) -> gr.Blocks:
    """An empty Space page: title, description, and one provenance note per model (`<model>-note`). Lay the
    panels out inside `with page(...) as demo:`; the page keeps at most SESSION_CAPACITY sessions, queues at most
    `limits.QUEUE_SIZE` calls, runs each event at most `limits.EVENT_CONCURRENCY` at once, and deletes uploads and
    outputs older than `limits.CACHE_MAX_AGE_S`."""
    blocks = gr.Blocks(title=title, delete_cache=(limits.CACHE_SWEEP_S, limits.CACHE_MAX_AGE_S))
    with blocks:
        gr.Markdown(f"# {title}\n{description}")
        if len(services) == 1:
            gr.Markdown(model_note(next(iter(services.values())).spec), elem_id="model-note")
    blocks.state_session_capacity = SESSION_CAPACITY  # launch() takes it too; mounting keeps this value
    # a bounded queue (Gradio answers "queue full" beyond), and every event runs at most EVENT_CONCURRENCY at once
    blocks.queue(max_size=limits.QUEUE_SIZE, default_concurrency_limit=limits.EVENT_CONCURRENCY)
    return blocks
