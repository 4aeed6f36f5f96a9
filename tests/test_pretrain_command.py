"""``python -m segedu.course.pretrain``: it never replaces the course's shipped weights unless asked, in
learner mode, and what it writes says how it was made."""

import hashlib

import pytest
import torch

from segedu.course import pretrain
from segedu.files import load
from segedu.models import course_weights_path, save_course_backbone, small_backbone_for_classification


@pytest.fixture
def shipped(tmp_path, monkeypatch):
    """Course weights where the course looks for them (``$SEGEDU_DATA``), and their digest."""
    monkeypatch.setenv("SEGEDU_DATA", str(tmp_path / "data"))
    torch.manual_seed(0)
    path = save_course_backbone(small_backbone_for_classification(4).backbone, images=40_000, epochs=4)
    return path, hashlib.sha256(path.read_bytes()).hexdigest()


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_fast_mode_run_writes_to_build_and_its_metadata_says_what_was_trained(shipped, tmp_path, monkeypatch):
    monkeypatch.setenv("SEGEDU_FAST", "1")
    monkeypatch.setattr(pretrain, "default_out", lambda: tmp_path / "build" / "small_backbone.pt")
    assert pretrain.main(["--epochs", "3", "--images", "40000"]) == 0
    path, before = shipped
    assert digest(path) == before
    _, meta = load(tmp_path / "build" / "small_backbone.pt")
    # fast mode shrinks the budget: the metadata must say so, never the numbers that were asked for
    assert meta["metadata"]["images"] == 256 and meta["metadata"]["epochs"] == 1
    assert meta["metadata"]["mode"] == "fast" and meta["metadata"]["image_size"] == 32


def test_out_at_the_course_weights_is_refused_without_the_flag(shipped, monkeypatch):
    path, before = shipped
    for mode in ("1", "0"):
        monkeypatch.setenv("SEGEDU_FAST", mode)
        with pytest.raises(SystemExit, match="--replace-course-weights"):
            pretrain.main(["--out", str(path)])
    assert digest(path) == before


def test_replacing_the_course_weights_is_refused_in_fast_mode(shipped, monkeypatch):
    path, before = shipped
    monkeypatch.setenv("SEGEDU_FAST", "1")
    with pytest.raises(SystemExit, match="refused in fast mode"):
        pretrain.main(["--replace-course-weights"])
    assert digest(path) == before


def test_replacing_on_purpose_in_learner_mode_writes_the_course_weights(shipped, monkeypatch):
    path, _ = shipped
    monkeypatch.setenv("SEGEDU_FAST", "0")
    assert pretrain.output_path(None, True) == course_weights_path().resolve() == path.resolve()
    with pytest.raises(SystemExit, match="drop --out"):
        pretrain.output_path("elsewhere.pt", True)


@pytest.mark.parametrize("argv", [["--images", "-5"], ["--epochs", "0"], ["--epochs", "two"]])
def test_bad_budgets_are_refused_by_the_command_line(argv, shipped, capsys):
    with pytest.raises(SystemExit) as stopped:
        pretrain.main(argv)
    assert stopped.value.code == 2
    error = capsys.readouterr().err
    assert "must be at least 1" in error or "is not a whole number" in error
    assert "Traceback" not in error


def test_bad_budgets_are_refused_by_the_function():
    with pytest.raises(ValueError, match="epochs must be a positive whole number, got 0"):
        pretrain.pretrain_backbone(epochs=0, progress=False)
