"""Gender from facial measurements: fill in seven features, get the class with its probability."""

from pathlib import Path

import gradio as gr

from shared.rest import load_rest_models, serve_space
from shared.sklearn_classifier import TabularClassifier
from shared.ui import MAX_UPLOAD, SESSION_CAPACITY, classification_form_panel, model_note, read_examples_csv

HERE = Path(__file__).parent
TITLE = "Gender from facial measurements"
DESCRIPTION = (
    "A scikit-learn pipeline predicts Male or Female from five yes/no features and two forehead "
    "measurements. The pipeline trained GaussianNB and LogisticRegression, compared them in MLflow, "
    "and kept the better one; the note below says which."
)


def build_demo(model_dir: Path = HERE / "model") -> gr.Blocks:
    """The Space's page, with its model loaded once."""
    classifier = TabularClassifier.from_artifact(model_dir)
    pipeline = classifier.spec.trained_with.get("pipeline", "?")
    with gr.Blocks(title=TITLE) as page:
        gr.Markdown(f"# {TITLE}\n{DESCRIPTION}")
        gr.Markdown(f"{model_note(classifier.spec)} Kept pipeline: **{pipeline}**.", elem_id="model-note")
        classification_form_panel(classifier, examples=read_examples_csv(HERE / "examples" / "examples.csv"))
    page.state_session_capacity = SESSION_CAPACITY
    return page


if __name__ == "__main__":  # the page at /, and TF Serving's REST API at /v1/models/<model> in the same process
    serve_space(build_demo(), load_rest_models(HERE / "model"), max_file_size=MAX_UPLOAD, space=HERE.name)
