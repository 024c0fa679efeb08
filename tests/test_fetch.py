"""`spacesuite data fetch` (training/fetch.py): the real clients (kagglehub, huggingface_hub, urllib) answering from
their own caches or file:// URLs, checksums, the one-sentence refusals, pinning, and the readers on what lands."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
import yaml
from pydantic import TypeAdapter, ValidationError
from rich.console import Console

from shared.errors import ChecksumError, DataLayoutError, FetchError
from training.demos import bird_species as birds
from training.demos import demo, digits, emotion, gender, housing, names, sign_language
from training.fetch import fetch_model, folder_sha256, pin_checksums, set_yaml_values, tree_sha256
from training.sources import Source, origin

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "datasets"
SOURCES = TypeAdapter(list[Source])
QUIET = Console(file=io.StringIO())
REVISION = "106c232c0a63f3f06ae5d80d141114a00604e969"
GENDER_CSV = (
    "long_hair,forehead_width_cm,forehead_height_cm,nose_wide,nose_long,lips_thin,distance_nose_to_lip_long,gender\n"
    "1,11.8,6.1,1,0,1,1,Male\n0,14.0,5.4,0,0,1,0,Female\n1,11.8,6.3,1,1,1,1,Male\n0,14.4,6.1,0,1,1,1,Female\n"
)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fetch(model: str, sources: list[dict], root: Path, **kwargs):
    converters = demo(model).converters if model in names() else {}
    return fetch_model(
        model, SOURCES.validate_python(sources), root=root, console=QUIET, converters=converters, **kwargs
    )


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def kaggle_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty kagglehub cache and no Kaggle credentials anywhere."""
    for name in ("KAGGLE_USERNAME", "KAGGLE_KEY", "KAGGLE_API_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no ~/.kaggle/access_token
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(tmp_path / "no-kaggle-config"))  # no kaggle.json
    monkeypatch.setenv("KAGGLEHUB_CACHE", str(tmp_path / "kagglehub"))
    return tmp_path / "kagglehub"


def offline_hub(monkeypatch: pytest.MonkeyPatch, cache: Path) -> None:
    """Point huggingface_hub at `cache`, offline (it reads these variables once, at import)."""
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)


def put_kaggle(cache: Path, handle: str, name: str, data: bytes) -> None:
    """What kagglehub 1.0 leaves after `dataset_download("owner/slug/versions/N", path=name)`."""
    owner, slug, _, version = handle.split("/")
    (cache / "datasets" / owner / slug / "versions" / version).mkdir(parents=True, exist_ok=True)
    (cache / "datasets" / owner / slug / "versions" / version / name).write_bytes(data)
    marker = cache / "datasets" / owner / slug / ".complete" / version / f"{name}.complete"
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.touch()


def put_hub(cache: Path, repo: str, name: str, data: bytes) -> None:
    """What huggingface_hub leaves after `hf_hub_download(repo, name, repo_type="dataset", revision=REVISION)`."""
    storage = cache / f"datasets--{repo.replace('/', '--')}"
    blob = storage / "blobs" / sha(data)
    blob.parent.mkdir(parents=True, exist_ok=True)
    blob.write_bytes(data)
    pointer = storage / "snapshots" / REVISION / name
    pointer.parent.mkdir(parents=True, exist_ok=True)
    pointer.symlink_to(os.path.relpath(blob, pointer.parent))


def tar_gz(path: Path, files: dict[str, bytes], *, mtime: int = 0, links: dict[str, str] | None = None) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), mtime
            tar.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
    return path


def tiny_npz(path: Path) -> bytes:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, size=(6, 28, 28), dtype=np.uint8)
    labels = np.arange(6, dtype=np.uint8)
    np.savez(path, x_train=images[:4], y_train=labels[:4], x_test=images[4:], y_test=labels[4:])
    return path.read_bytes()


# --- the clients from tiny caches, the checks, the refusals -----------------------------------------------------


def test_kaggle_and_url_sources_land_in_the_readers_layout(kaggle_cache: Path, tmp_path: Path) -> None:
    put_kaggle(kaggle_cache, "elakiricoder/gender-classification-dataset/versions/1", gender.FILE, GENDER_CSV.encode())
    npz = tiny_npz(tmp_path / "published.npz")
    root = tmp_path / "public"
    report = fetch(
        "gender",
        [
            {
                "kaggle": "elakiricoder/gender-classification-dataset/versions/1",
                "files": {gender.FILE: sha(GENDER_CSV.encode())},
            },
            {"url": (tmp_path / "published.npz").as_uri(), "sha256": sha(npz), "to": "extra/mnist.npz"},
        ],
        root,
    )
    assert [(f.name, f.bytes) for f in report.files] == [(gender.FILE, len(GENDER_CSV)), ("extra/mnist.npz", len(npz))]
    assert report.unpinned == {}
    assert sorted(snapshot(root / "gender")) == ["extra/mnist.npz", gender.FILE]
    features, classes = gender.read_csv(root / "gender" / gender.FILE)
    assert features.shape == (4, 7) and classes.tolist() == [1, 0, 1, 0]
    assert len(digits.read_npz(root / "gender" / "extra" / "mnist.npz")["y_train"]) == 4
    assert [p.name for p in root.iterdir()] == ["gender"]  # no staging folder left behind


def test_a_wrong_pin_refuses_in_one_sentence_and_keeps_the_previous_data(kaggle_cache: Path, tmp_path: Path) -> None:
    handle = "elakiricoder/gender-classification-dataset/versions/1"
    put_kaggle(kaggle_cache, handle, gender.FILE, GENDER_CSV.encode())
    root = tmp_path / "public"
    fetch("gender", [{"kaggle": handle, "files": {gender.FILE: sha(GENDER_CSV.encode())}}], root)
    (root / "gender" / "note.txt").write_text("the last good data")
    before = snapshot(root / "gender")
    wrong = "0" * 64
    with pytest.raises(ChecksumError) as caught:
        fetch("gender", [{"kaggle": handle, "files": {gender.FILE: wrong}}], root)
    message = str(caught.value)
    assert message.startswith("gender: ") and message.count(". ") == 0 and "\n" not in message
    assert gender.FILE in message and wrong in message and sha(GENDER_CSV.encode()) in message
    assert snapshot(root / "gender") == before
    assert sorted(p.name for p in root.iterdir()) == ["gender"]


def test_an_unpinned_file_refuses_naming_its_hash_and_lands_when_allowed(tmp_path: Path) -> None:
    npz = tiny_npz(tmp_path / "mnist.npz")
    sources = [{"url": (tmp_path / "mnist.npz").as_uri(), "sha256": None, "to": "mnist.npz"}]
    with pytest.raises(ChecksumError, match=rf"digits: mnist.npz has sha256 {sha(npz)}, not pinned yet.*--pin"):
        fetch("digits", sources, tmp_path / "public")
    assert not (tmp_path / "public" / "digits").exists()
    report = fetch("digits", sources, tmp_path / "public", allow_unpinned=True)
    assert report.unpinned == {(0, "sha256"): sha(npz)}
    assert (tmp_path / "public" / "digits" / "mnist.npz").read_bytes() == npz


def test_missing_kaggle_credentials_and_an_empty_cache_is_one_sentence(
    kaggle_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import kagglehub

    monkeypatch.setattr(kagglehub, "dataset_download", lambda *a, **k: pytest.fail("asked Kaggle without credentials"))
    (tmp_path / "public" / "gender").mkdir(parents=True)
    (tmp_path / "public" / "gender" / gender.FILE).write_text("previous")
    sources = [{"kaggle": "elakiricoder/gender-classification-dataset/versions/1", "files": {gender.FILE: None}}]
    with pytest.raises(FetchError) as caught:
        fetch("gender", sources, tmp_path / "public")
    message = str(caught.value)
    assert message.startswith("gender: gender_classification_v7.csv of Kaggle dataset elakiricoder/")
    assert "KAGGLE_USERNAME and KAGGLE_KEY" in message and "secrets" in message and "\n" not in message
    assert (tmp_path / "public" / "gender" / gender.FILE).read_text() == "previous"


def test_the_hub_answers_from_its_cache_and_parquet_becomes_dair_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    offline_hub(monkeypatch, tmp_path / "hf")
    files = {}
    for split, rows in {"train": [("i feel great", 1), ("so alone; again", 0)], "validation": [("scared", 4)]}.items():
        buffer = io.BytesIO()
        pq.write_table(pa.table({"text": [t for t, _ in rows], "label": [label for _, label in rows]}), buffer)
        files[f"split/{split}-00000-of-00001.parquet"] = buffer.getvalue()
    files["split/test-00000-of-00001.parquet"] = files["split/validation-00000-of-00001.parquet"]
    for name, data in files.items():
        put_hub(tmp_path / "hf", "dair-ai/emotion", name, data)
    source = {"hub": "dair-ai/emotion", "revision": REVISION, "convert": "dair-ai-parquet"}
    fetch("emotion", [{**source, "files": {name: sha(data) for name, data in files.items()}}], tmp_path / "public")
    assert sorted(snapshot(tmp_path / "public" / "emotion")) == ["test.txt", "train.txt", "val.txt"]
    assert (tmp_path / "public" / "emotion" / "train.txt").read_text() == "i feel great;joy\nso alone; again;sadness\n"
    _, labels, _, rows = emotion.read_folder(tmp_path / "public" / "emotion")
    assert rows == {"train.txt": 2, "val.txt": 1, "test.txt": 1} and labels.tolist() == [1, 0, 4, 4]

    missing = {**source, "files": {"split/other.parquet": None}}
    with pytest.raises(
        FetchError, match=r"^emotion: the Hugging Face Hub did not deliver split/other.parquet .*HF_HUB"
    ):
        fetch("emotion", [missing], tmp_path / "public")
    assert (tmp_path / "public" / "emotion" / "train.txt").is_file()


def test_an_archive_is_checked_by_its_files_not_its_bytes(tmp_path: Path) -> None:
    photos = {"macaw/a.jpg": b"jpeg bytes", "gray parrot/b (1).png": b"png bytes"}
    top = "Repo-992fc76"
    first = tar_gz(
        tmp_path / "one.tar.gz",
        {f"{top}/README.md": b"x", **{f"{top}/Birds dataset/{k}": v for k, v in photos.items()}},
    )
    repacked = {f"{top}/Birds dataset/{k}": v for k, v in reversed(photos.items())}
    second = tar_gz(tmp_path / "two.tar.gz", repacked, mtime=1_700_000_000)
    assert sha(first.read_bytes()) != sha(second.read_bytes())
    pin = tree_sha256({k: sha(v) for k, v in photos.items()})
    source = {"unpack": "tar.gz", "strip": 1, "select": "Birds dataset", "to": "Birds dataset", "tree_sha256": pin}
    for archive in (first, second):
        report = fetch("bird-species", [{**source, "url": archive.as_uri()}], tmp_path / "public")
        assert report.files[0].sha256 == pin
        assert sorted(snapshot(tmp_path / "public" / "bird-species")) == [f"Birds dataset/{k}" for k in sorted(photos)]
    assert folder_sha256(tmp_path / "public" / "bird-species" / "Birds dataset") == pin

    linked = tar_gz(tmp_path / "three.tar.gz", {}, links={f"{top}/Birds dataset/macaw/c.jpg": "/etc/passwd"})
    with pytest.raises(FetchError, match="not a plain file"):
        fetch("bird-species", [{**source, "url": linked.as_uri()}], tmp_path / "public")
    with pytest.raises(FetchError, match=r"^bird-species: could not download file:///nowhere"):
        fetch("bird-species", [{**source, "url": "file:///nowhere/x.tar.gz"}], tmp_path / "public")
    assert len(snapshot(tmp_path / "public" / "bird-species")) == 2


def test_a_failed_conversion_keeps_the_previous_data(tmp_path: Path) -> None:
    bad = tar_gz(tmp_path / "cal_housing.tgz", {"CaliforniaHousing/other.txt": b"1,2\n"})
    (tmp_path / "public" / "housing").mkdir(parents=True)
    (tmp_path / "public" / "housing" / housing.PKZ_FILE).write_bytes(b"previous")
    source = {"url": bad.as_uri(), "sha256": sha(bad.read_bytes()), "to": "cal_housing.tgz"}
    with pytest.raises(DataLayoutError, match=r"not scikit-learn's cal_housing\.tgz"):
        fetch("housing", [{**source, "convert": "sklearn-cal-housing"}], tmp_path / "public")
    assert snapshot(tmp_path / "public" / "housing") == {housing.PKZ_FILE: b"previous"}


def test_sources_are_strict() -> None:
    ok = {"kaggle": "a/b/versions/3", "files": {"x.csv": None}}
    assert SOURCES.validate_python([ok])[0].files == {"x.csv": None}
    assert origin(SOURCES.validate_python([ok])[0]) == "kaggle:a/b/versions/3"  # provenance's `origins`
    for bad in (
        {"kaggle": "a/b", "files": {"x.csv": None}},  # unversioned: offline it would ask Kaggle for the latest
        {**ok, "files": {"../x.csv": None}},
        {**ok, "extra": 1},
        {"hub": "dair-ai/emotion", "revision": "main", "files": {"a": None}},
        {"url": "https://x/y", "to": "y"},  # a URL's pin must be written, even as null
        {"url": "https://x/y", "sha256": "ABC", "to": "y"},
        {"url": "https://x/y", "sha256": None, "to": "/etc/y"},
        {"files": {"a": None}},
    ):
        with pytest.raises(ValidationError):
            SOURCES.validate_python([bad])


PARAMS = """\
# a comment that stays
gender:
  data:
    source: public   # why: real data
    public:
      - kaggle: owner/slug/versions/2   # pinned version
        files:
          one.csv: null        # not checked yet
          two.csv: ~
          three.csv:
      - url: https://example.org/x.npz
        sha256: null
        to: x.npz
spaces: {gender: {title: Gender}}
"""


def test_pin_checksums_edits_only_those_values(tmp_path: Path) -> None:
    path = tmp_path / "params.yaml"
    path.write_text(PARAMS)
    a, b, c, d = ("a" * 64, "b" * 64, "1" * 64, "d" * 64)  # "111…" would read back as a number if left unquoted
    observed = {(0, "files", "one.csv"): a, (0, "files", "two.csv"): b, (0, "files", "three.csv"): c, (1, "sha256"): d}
    assert pin_checksums(path, "gender", observed) == 4
    text = path.read_text()
    changed = [(old, new) for old, new in zip(PARAMS.splitlines(), text.splitlines(), strict=True) if old != new]
    assert changed == [
        ("          one.csv: null        # not checked yet", f"          one.csv: {a}        # not checked yet"),
        ("          two.csv: ~", f"          two.csv: {b}"),
        ("          three.csv:", f'          three.csv: "{c}"'),
        ("        sha256: null", f"        sha256: {d}"),
    ]
    public = yaml.safe_load(text)["gender"]["data"]["public"]
    assert public[0]["files"] == {"one.csv": a, "two.csv": b, "three.csv": c} and public[1]["sha256"] == d
    assert pin_checksums(path, "gender", {(0, "files", "one.csv"): a}) == 0  # already pinned to it
    with pytest.raises(ChecksumError, match=r"already pins gender\.data\.public\.0\.files\.one\.csv"):
        pin_checksums(path, "gender", {(0, "files", "one.csv"): b})
    with pytest.raises(KeyError, match=r"gender\.data\.public\.0\.files\.four\.csv"):
        pin_checksums(path, "gender", {(0, "files", "four.csv"): a})
    assert path.read_text() == text


def test_pin_checksums_on_a_copy_of_params_yaml(tmp_path: Path) -> None:
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    models = {section: body["data"]["public"] for section, body in params.items() if "public" in body.get("data", {})}
    if not models:
        pytest.skip("params.yaml declares no <model>.data.public sources yet")
    copy = tmp_path / "params.yaml"
    shutil.copyfile(REPO / "params.yaml", copy)
    fake = iter(f"{n:064x}".replace("0", "e") for n in range(1, 100))
    written: list[str] = []
    for section, sources in models.items():
        nulls = {}
        for index, source in enumerate(sources):
            for name, pin in source.get("files", {}).items():
                if pin is None:
                    nulls[(index, "files", name)] = next(fake)
            for key in ("sha256", "tree_sha256"):
                if key in source and source[key] is None:
                    nulls[(index, key)] = next(fake)
        assert pin_checksums(copy, section.replace("_", "-"), nulls) == len(nulls)
        written += nulls.values()
    assert written
    before, after = (REPO / "params.yaml").read_text().splitlines(), copy.read_text().splitlines()
    changed = [(old, new) for old, new in zip(before, after, strict=True) if old != new]
    assert [new for _, new in changed] == [
        old.replace("null", h, 1) for (old, _), h in zip(changed, written, strict=True)
    ]


# --- every model from the shared copies, through the real clients ----------------------------------------------


@pytest.fixture(scope="module")
def offline(tmp_path_factory: pytest.TempPathFactory):
    """Caches filled by bench/public_cache.py from ../shared/datasets, and params.yaml's sources pointed at them."""
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is not here: the real-data copies live outside the repository (see SOURCES.md)")
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    if not any("public" in body.get("data", {}) for body in params.values() if isinstance(body, dict)):
        pytest.skip("params.yaml declares no <model>.data.public sources yet")
    sys.path.insert(0, str(REPO / "bench"))
    import public_cache

    folder = tmp_path_factory.mktemp("public-cache")
    caches = public_cache.fill(folder, shared=SHARED, params_path=REPO / "params.yaml")
    with pytest.MonkeyPatch.context() as patch:
        for name in ("KAGGLE_USERNAME", "KAGGLE_KEY", "KAGGLE_API_TOKEN"):
            patch.delenv(name, raising=False)  # every Kaggle file must come from the cache
        patch.setenv("KAGGLE_CONFIG_DIR", str(folder / "no-kaggle-config"))
        patch.setenv("HOME", str(folder / "home"))
        for key, value in caches.env.items():
            patch.setenv(key, value)
        offline_hub(patch, Path(caches.env["HF_HUB_CACHE"]))
        yield caches, caches.apply(params), folder / "public"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("model", "rows"),
    [
        ("sign-language", [27455, 7172]),
        ("bird-species", [203]),
        ("digits", [60000, 10000]),
        ("housing", [20640]),
        ("gender", [5001]),
        ("emotion", [16000, 2000, 2000]),
    ],
)
def test_every_model_fetches_offline_and_its_reader_takes_it(offline, model: str, rows: list[int]) -> None:
    _, params, root = offline
    sources = SOURCES.validate_python(params[model.replace("-", "_")]["data"]["public"])
    report = fetch_model(model, sources, root=root, console=QUIET, converters=demo(model).converters)
    assert report.unpinned == {} and all(f.sha256 == f.expected for f in report.files)
    folder = root / model
    if model == "sign-language":
        counts = [len(sign_language.read_kaggle_csv(folder / name)[1]) for name in sign_language.FILES.values()]
    elif model == "bird-species":
        _, classes, names, _, skipped = birds.read_folder(folder, 32)
        counts = [len(classes)]
        assert names == birds.SPECIES and not skipped
        weights = folder / "weights" / "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5"
        assert weights.read_bytes()[:8] == b"\x89HDF\r\n\x1a\n"
    elif model == "digits":
        arrays = digits.read_npz(folder / digits.FILE)
        counts = [len(arrays["y_train"]), len(arrays["y_test"])]
    elif model == "housing":
        x, y, dropped = housing.read_source(housing.find_source(folder))
        counts = [len(y)]
        assert housing.find_source(folder).name == housing.PKZ_FILE and x.shape == (20640, 8) and dropped == 0
        import joblib

        shared = joblib.load(SHARED / "california-housing" / housing.PKZ_FILE)
        assert np.array_equal(joblib.load(folder / housing.PKZ_FILE), shared)  # the tgz round trip loses nothing
    elif model == "gender":
        counts = [len(gender.read_csv(gender.find_file(folder))[1])]
    else:
        counts = list(emotion.read_folder(folder)[3].values())
    assert counts == rows


@pytest.mark.slow
def test_the_birds_tree_pin_is_the_published_one(offline) -> None:
    caches, params, _ = offline
    archive = params["bird_species"]["data"]["public"][0]
    assert not any(where[-1] == "tree_sha256" for where in caches.edits)  # never overridden
    assert archive["tree_sha256"] == folder_sha256(SHARED / "birds" / "Birds dataset")


@pytest.mark.slow
def test_kaggles_emotion_text_csv_also_lands(offline) -> None:
    _, _, root = offline
    handle = "nelgiriyewithana/emotions/versions/1"
    cache = Path(offline[0].env["KAGGLEHUB_CACHE"]) / "datasets" / handle / "text.csv"
    fetch_model(
        "emotion",
        SOURCES.validate_python([{"kaggle": handle, "files": {"text.csv": sha(cache.read_bytes())}}]),
        root=root / "kaggle",
        console=QUIET,
    )
    _, _, folds, rows = emotion.read_folder(root / "kaggle" / "emotion")
    assert rows == {"text.csv": 20000} and set(folds.tolist()) == {0}


@pytest.mark.slow
def test_fetch_models_refuses_then_pins_then_fetches(offline, tmp_path: Path) -> None:
    from training.params import DataParams

    if "public" not in DataParams.model_fields:
        pytest.skip("training/params.py does not read <model>.data.public yet")
    from training.fetch import fetch_models

    caches, _, _ = offline
    copy = tmp_path / "params.yaml"  # gender's CSV not pinned, as before anyone checked Kaggle's file
    pin = ("gender", "data", "public", 0, "files", gender.FILE)
    copy.write_text(set_yaml_values((REPO / "params.yaml").read_text(), {pin: None}))
    root = tmp_path / "public"
    with pytest.raises(ChecksumError, match=r"^gender: gender_classification_v7\.csv has sha256 .*--pin"):
        fetch_models(["gender"], params_path=copy, root=root, console=QUIET)
    assert not (root / "gender").exists()
    fetch_models(["gender"], params_path=copy, root=root, pin=True, console=QUIET)
    pinned = yaml.safe_load(copy.read_text())["gender"]["data"]["public"][0]["files"]
    assert pinned == {gender.FILE: caches.edits[pin]}
    (root / "gender" / gender.FILE).unlink()
    fetch_models(["gender"], params_path=copy, root=root, console=QUIET)  # pinned now: no --pin needed
    assert len(gender.read_csv(root / "gender" / gender.FILE)[1]) == 5001
