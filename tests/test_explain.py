"""Explanations (`shared.explain`): exact log-odds terms on scikit-learn pipelines, and every classifier Space
explaining its answers through its page (gradio_client) and its REST `:explain`, faithfully: hiding the part an
explanation ranks first lowers the predicted class's probability more than hiding another part does, on most items
of the test split."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from conftest import serving
from gradio_client import Client, handle_file
from PIL import Image

from shared.artifact import ModelSpec
from shared.classifier import ModelInput
from shared.explain import GRID_LARGE, GRID_SMALL, image_grid, log_odds_terms, occluded
from shared.images import normalize
from shared.server import space_app
from shared.service import Service, load_services
from shared.suite import load_space
from training.deploy import endpoint_for, examples, model_specs

SPACES = sorted(path.parent.name for path in (Path(__file__).parents[1] / "spaces").glob("*/app.py"))
ITEMS = 12  # test-split items per model in the faithfulness check
RANDOM_DRAWS = 8  # random parts hidden per item (their mean drop is the "random" side)
integration = [pytest.mark.integration, pytest.mark.slow]


# --- exact log-odds terms -------------------------------------------------------------------------------------


def _penguin_like_rows(rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Numbers (some missing), a category by index and a label that depends on both."""
    rng = np.random.default_rng(seed)
    numbers = rng.normal(size=(rows, 3))
    category = rng.integers(0, 3, size=rows).astype(float)
    labels = (numbers[:, 0] + category + rng.normal(scale=0.5, size=rows) > 1.0).astype(int)
    labels += (numbers[:, 1] > 1.0).astype(int)
    numbers[rng.random(size=numbers.shape) < 0.1] = np.nan
    return np.column_stack([category, numbers]).astype(np.float32), labels


def _pipeline(estimator):
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numbers = Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())])
    categories = Pipeline(
        [("impute", SimpleImputer(strategy="most_frequent")), ("onehot", OneHotEncoder(handle_unknown="ignore"))]
    )
    columns = ColumnTransformer([("numbers", numbers, [1, 2, 3]), ("categories", categories, [0])])
    return Pipeline([("prepare", columns), ("model", estimator)])


@pytest.mark.parametrize("estimator", ["logistic", "naive_bayes"])
@pytest.mark.parametrize("classes", [2, 3])
def test_log_odds_terms_add_up_to_the_models_own_log_odds(estimator: str, classes: int) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.naive_bayes import GaussianNB

    rows, labels = _penguin_like_rows(300, seed=classes)
    labels = np.minimum(labels, classes - 1)
    model = _pipeline(LogisticRegression(max_iter=1000) if estimator == "logistic" else GaussianNB())
    if estimator == "naive_bayes":  # GaussianNB takes no NaN: impute, then scale, for every column
        from sklearn.impute import SimpleImputer
        from sklearn.pipeline import Pipeline
        from sklearn.preprocessing import StandardScaler

        model = Pipeline([("impute", SimpleImputer()), ("scale", StandardScaler()), ("model", GaussianNB())])
    model.fit(rows, labels)
    for row in rows[:20]:
        found = log_odds_terms(model, row[np.newaxis], rows.shape[1])
        assert found is not None
        label, weights, baseline = found
        log_p = model.predict_log_proba(row[np.newaxis])[0]
        others = np.arange(classes) != label
        assert label == int(np.argmax(log_p))
        assert weights.shape == (rows.shape[1],)
        assert baseline + weights.sum() == pytest.approx(log_p[label] - log_p[others].mean(), abs=1e-4)


def test_a_pipeline_that_mixes_columns_has_no_exact_terms() -> None:
    from sklearn.decomposition import PCA
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    rows, labels = _penguin_like_rows(200, seed=0)
    model = Pipeline([("pca", PCA(2)), ("model", LogisticRegression())]).fit(np.nan_to_num(rows), labels)
    assert log_odds_terms(model, np.nan_to_num(rows[:1]), rows.shape[1]) is None


def test_occlusion_covers_the_image_once_with_its_patches() -> None:
    pixels = np.random.default_rng(0).random((224, 224, 3)).astype(np.float32)
    batch = occluded(pixels)
    rows, cols = image_grid(224, 224)
    assert (rows, cols) == (GRID_LARGE, GRID_LARGE)
    assert batch.shape == (1 + rows * cols, 224, 224, 3)
    changed = np.stack([(copy != pixels).any(axis=2) for copy in batch[1:]])
    assert not changed[0, 100:, :].any() and changed[0, :40, :40].all()  # the first patch is the top-left one
    assert (changed.sum(axis=0) == 1).all()  # every pixel is hidden by exactly one patch
    assert image_grid(28, 28) == (GRID_SMALL, GRID_SMALL)


# --- every classifier Space ------------------------------------------------------------------------------------


@contextlib.contextmanager
def served(bundle: Path) -> Iterator[tuple[str, dict[str, Service]]]:
    """A bundled Space as `python app.py` serves it (page and REST in one app) on 127.0.0.1, with its services."""
    services = load_services(bundle / "model")
    with serving(space_app(load_space(bundle, services), services)) as base:
        yield base, services


def classifier_specs(bundle: Path) -> list[ModelSpec]:
    """The Space's classifiers."""
    return [spec for spec in model_specs(bundle) if spec.labels]


def explain_endpoint(predict_endpoint: str) -> str:
    """`/explain` beside `/predict`, else `/<name>_explain`."""
    return "/explain" if predict_endpoint == "/predict" else f"{predict_endpoint}_explain"


@pytest.mark.parametrize("space", SPACES)
@pytest.mark.integration
@pytest.mark.slow
def test_every_classifier_space_explains_its_answers_through_its_page(spaces_dir: Path, space: str) -> None:
    bundle = spaces_dir / space
    specs = classifier_specs(bundle)
    assert specs, f"{space} has no classifier"
    with served(bundle) as (base, _):
        client = Client(base + "/", verbose=False)
        api = client.view_api(print_info=False, return_format="dict")
        for spec in specs:
            predict = endpoint_for(api, spec)
            explain = explain_endpoint(predict)
            assert explain in api["named_endpoints"], f"{space}: no {explain} beside {predict}"
            for example in examples(bundle, spec)[:3]:
                args = [handle_file(str(example))] if spec.input.kind == "image" else example
                args = args if isinstance(args, list) else [args]
                answer = client.predict(*args, api_name=predict)
                answer = answer[0] if isinstance(answer, tuple | list) else answer
                shown, numbers = client.predict(*args, api_name=explain)
                assert numbers["label"] == answer["label"], f"{spec.name}: the explanation explains another answer"
                confidences = {c["label"]: c["confidence"] for c in answer["confidences"]}
                assert numbers["probability"] == pytest.approx(confidences[answer["label"]], abs=1e-4)
                _check_shape(spec, numbers, shown, confidences)


def _check_shape(spec: ModelSpec, numbers: dict, shown, confidences: dict[str, float]) -> None:
    """The numbers have one weight per patch, word read or feature, and the page shows them."""
    kind = spec.input.kind
    if kind == "image":
        rows, cols = image_grid(spec.input.height, spec.input.width)
        assert numbers["method"] == "occlusion" and numbers["grid"] == [rows, cols]
        assert np.asarray(numbers["weights"]).shape == (rows, cols)
        assert max(Image.open(shown).size) >= 140  # the heat map, enlarged like the model's view
    elif kind == "text":
        assert numbers["method"] == "leave-one-word-out"
        assert len(numbers["weights"]) == len(numbers["names"]) > 0
        assert [word for word, _ in _highlighted(shown)] == numbers["names"]
    else:
        names = [feature.name for feature in spec.input.features]
        assert numbers["names"] == names and len(numbers["weights"]) == len(names)
        assert [bar[1] for bar in shown["data"]] == pytest.approx(numbers["weights"], abs=1e-5)  # a bar per feature
        if numbers["method"] == "log-odds terms":  # exact: they add up to the log-odds the page answered
            log_p = np.log([confidences[label] for label in spec.labels])
            k = spec.labels.index(numbers["label"])
            expected = log_p[k] - np.delete(log_p, k).mean()
            assert numbers["baseline"] + sum(numbers["weights"]) == pytest.approx(expected, abs=1e-3)


def _highlighted(shown) -> list[tuple[str, float]]:
    entries = shown["value"] if isinstance(shown, dict) and "value" in shown else shown
    return [(entry["token"], entry["class_or_confidence"]) for entry in entries]


# --- faithfulness ----------------------------------------------------------------------------------------------


def split_items(repo: Path, spec: ModelSpec) -> list:
    """The first ITEMS instances of the model's test split, as its REST `:explain` takes them."""
    splits = np.load(repo / "build" / spec.name / "prepare" / "splits.npz", allow_pickle=False)
    kind = spec.input.kind
    if kind == "image":
        pixels = normalize(splits["x_test"][:ITEMS], channels=spec.input.channels)
        return [image.tolist() for image in pixels]
    if kind == "text":
        return [str(text) for text in splits["text_test"][:ITEMS]]
    rows = []
    for row in splits["x_test"][:ITEMS]:
        values: list = []
        for value, feature in zip(row.tolist(), spec.input.features, strict=True):
            if np.isnan(value):
                values.append(None)
            else:
                values.append(feature.choices[int(value)] if feature.kind == "category" else value)
        rows.append(values)
    return rows


def hidden_drops(service: Service, instance, numbers: dict, others: list, rng: np.random.Generator) -> tuple:
    """How much the explained class's probability drops when the part ranked first is hidden, and the mean drop
    when random other parts are: a patch painted the image's mean colour, a word left out, a feature given the
    values other test items have (its usual values: the mean probability over them)."""
    model = service.model
    kind = service.spec.input.kind
    prepared = model.prepare(ModelInput(np.asarray(instance, dtype=np.float32)) if kind == "image" else instance)
    label = service.spec.labels.index(numbers["label"])
    weights = np.asarray(numbers["weights"], dtype=float).reshape(-1)
    top = int(np.argmax(weights))
    rest = [i for i in range(len(weights)) if i != top]
    chosen = rng.choice(rest, size=min(RANDOM_DRAWS, len(rest)), replace=False).tolist()
    if kind == "image":
        batch = occluded(prepared.inputs[0])  # the image, then one copy per patch hidden
        probabilities = model.run(batch)[:, label]
        drops = probabilities[0] - probabilities[1:]
    elif kind == "text":
        _, tokens = prepared.context
        length = service.spec.input.sequence_length
        encoded = model.vocabulary.encode_batch(
            [tokens, *[tokens[:i] + tokens[i + 1 :] for i in range(len(weights))]], length
        )
        probabilities = model.run(encoded)[:, label]
        drops = probabilities[0] - probabilities[1:]
    else:
        row = prepared.inputs
        replacements = np.stack([model.prepare(other).inputs[0] for other in others])
        drops = []
        for feature in range(len(weights)):
            batch = np.repeat(row, len(replacements), axis=0)
            batch[:, feature] = replacements[:, feature]
            drops.append(model.run(row)[0, label] - model.run(batch)[:, label].mean())
        drops = np.asarray(drops)
    return float(drops[top]), float(np.mean(drops[chosen]))


@pytest.mark.parametrize("space", SPACES)
@pytest.mark.integration
@pytest.mark.slow
def test_hiding_what_rest_explain_ranks_first_costs_the_answer_most(tiny_repo: Path, space: str) -> None:
    bundle = tiny_repo / "dist" / "spaces" / space
    rng = np.random.default_rng(0)
    with served(bundle) as (base, services):
        for spec in classifier_specs(bundle):
            items = split_items(tiny_repo, spec)
            assert len(items) >= 10, f"{spec.name}: {len(items)} test items"
            faithful = []
            for index, instance in enumerate(items):
                reply = httpx.post(f"{base}/v1/models/{spec.name}:explain", json={"instances": [instance]}, timeout=60)
                assert reply.status_code == 200, reply.text
                (numbers,) = reply.json()["explanations"]
                others = [item for other, item in enumerate(items) if other != index]
                top, random = hidden_drops(services[spec.name], instance, numbers, others, rng)
                faithful.append(top > random)
            assert sum(faithful) > len(faithful) / 2, f"{spec.name}: faithful on {sum(faithful)} of {len(faithful)}"


@pytest.mark.integration
@pytest.mark.slow
def test_rest_explain_refuses_what_it_cannot_explain(spaces_dir: Path) -> None:
    with served(spaces_dir / "keras-basics") as (base, _):
        housing = httpx.post(
            f"{base}/v1/models/housing:explain", json={"instances": [[4.4, 26, 4.8, 1.1, 752, 2.5, 36.5, -117.8]]}
        )
        assert housing.status_code == 400 and "classifiers only" in housing.json()["error"]
        pixels = np.zeros((28, 28, 1)).tolist()
        too_many = httpx.post(f"{base}/v1/models/digits:explain", json={"instances": [pixels] * 5}, timeout=30)
        assert too_many.status_code == 400 and "at most 4" in too_many.json()["error"]
        flat = httpx.post(f"{base}/v1/models/digits:explain", json={"instances": [{"b64": "bm90IGFuIGltYWdl"}]})
        assert flat.status_code == 400 and flat.json()["error"].startswith("Instance 0: ")
        assert httpx.post(f"{base}/v1/models/digits:explain", content=b"{").status_code == 400
        metrics = httpx.get(f"{base}/metrics/", timeout=10).text
        assert 'spacesuite_requests_total{endpoint="rest_explain",model="housing",outcome="input_error"}' in metrics
        assert json.loads(httpx.get(f"{base}/v1/models/digits", timeout=10).text)["model_version_status"]


@pytest.mark.integration
@pytest.mark.slow
def test_an_explanation_is_logged_once_and_left_out_of_the_drift_job_and_class_mix(
    spaces_dir: Path, tmp_path: Path
) -> None:
    from shared import metrics, traffic
    from training.drift import traffic_frame

    folder = tmp_path / "traffic"
    traffic.configure("gender", environ={"SPACESUITE_TRAFFIC_DIR": str(folder)})
    try:
        service = load_services(spaces_dir / "gender" / "model")["gender"]
        row = examples(spaces_dir / "gender", service.spec)[0]
        counted = metrics.PREDICTIONS.labels(model="gender", label=service.answer("predict", [row])[0].top[0])
        before = counted._value.get()
        ((prediction, explanation),) = service.explain("explain", [row])
        assert explanation.label == prediction.top[0]
        assert counted._value.get() == before  # the answer explained is not counted in the class mix again
    finally:
        traffic.configure()
    records, _ = traffic.read_records(folder)
    assert [(r["endpoint"], r.get("explanation", False)) for r in records] == [("predict", False), ("explain", True)]
    frame, counts = traffic_frame(folder, service.spec)
    assert len(frame) == 1 and counts["explanations"] == 1
