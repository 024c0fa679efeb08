"""Birds: the sample folder holds every format the real one does, ingest reads them all, and a bad file is named."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from shared.errors import DataLayoutError
from training.demos import bird_species as birds
from training.params import load_params

REAL = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "birds"


def test_sample_is_deterministic_in_kaggle_layout(tmp_path: Path) -> None:
    first = birds.write_sample(tmp_path / "a", birds.BirdData.model_construct(sample_per_class=5), 2)
    second = birds.write_sample(tmp_path / "b", birds.BirdData.model_construct(sample_per_class=5), 2)
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]
    assert {p.suffix for p in first} == {".jpg", ".png", ".webp"}
    classes, skipped = birds.list_images(tmp_path / "a")
    assert list(classes) == birds.SPECIES and skipped == []


def test_every_format_is_read_and_other_files_skipped(tmp_path: Path) -> None:
    birds.write_sample(tmp_path, birds.BirdData.model_construct(sample_per_class=5), 0)
    (tmp_path / birds.DATASET_FOLDER / "macaw" / "notes.txt").write_text("not an image")
    pixels, classes, names, files, skipped = birds.read_folder(tmp_path, 64)
    assert pixels.shape == (20, 64, 64, 3) and pixels.dtype == np.uint8
    assert names == birds.SPECIES and np.bincount(classes).tolist() == [5, 5, 5, 5]
    assert {p.suffix for p in files} == {".jpg", ".png", ".webp"}
    assert [p.name for p in skipped] == ["notes.txt"]


def test_a_corrupt_image_is_named(tmp_path: Path) -> None:
    birds.write_sample(tmp_path, birds.BirdData.model_construct(sample_per_class=4), 0)
    bad = tmp_path / birds.DATASET_FOLDER / "gray parrot" / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff garbage")
    with pytest.raises(DataLayoutError, match=r"gray parrot/broken.jpg: "):
        birds.read_folder(tmp_path, 32)


def test_base_weights_param() -> None:
    assert birds.resolve_base_weights("none") is None
    assert birds.resolve_base_weights("imagenet") == "imagenet"
    with pytest.raises(FileNotFoundError, match="base_weights"):
        birds.resolve_base_weights("/nowhere/weights.h5")


def test_alpha_auto_is_the_full_width_on_pretrained_weights_only() -> None:
    section = load_params().model("bird-species")
    assert section.model.alpha == "auto" and section.data.source == "sample"
    assert section.base_weights == "none" and section.alpha == birds.RANDOM_INIT_ALPHA
    public = section.model_copy(update={"data": section.data.model_copy(update={"source": "public"})})
    assert public.base_weights.endswith("1.0_224_no_top.h5") and public.alpha == 1.0
    chosen = section.model_copy(update={"model": section.model.model_copy(update={"alpha": 0.5})})
    assert chosen.alpha == 0.5
    with pytest.raises(ValueError, match="alpha"):
        birds.MobileNetParams(alpha=0)


@pytest.mark.skipif(not REAL.is_dir(), reason="real birds copy not present")
def test_real_folder_reads_all_203_images_including_webp() -> None:
    classes, _ = birds.list_images(REAL)
    files = [p for paths in classes.values() for p in paths]
    assert len(files) == 203 and sum(p.suffix.lower() == ".webp" for p in files) == 13
    pixels = np.stack([birds.read_image(p, 32) for p in files if p.suffix.lower() == ".webp"])
    assert pixels.shape == (13, 32, 32, 3)
