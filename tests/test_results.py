"""The results registry: record runs, read them back, compare them in a table."""

import json

import pytest
import torch
from torch import nn

from segedu import results
from segedu.metrics import ConfusionMatrix
from segedu.train import Scores


@pytest.fixture
def results_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("SEGEDU_RESULTS", str(tmp_path))
    return tmp_path


def make_scores(miou):
    confusion = ConfusionMatrix(2)
    confusion.update(torch.tensor([[0, 1]]), torch.tensor([[0, 1]]))
    return Scores(miou=miou, pixel_accuracy=0.9, class_iou={"background": 1.0, "disk": float("nan")},
                  boundary=0.5, boundary_width=2, size_iou={"small": 0.1, "medium": None, "large": 0.7},
                  confusion=confusion, class_names=("background", "disk"), num_images=4)


def test_record_appends_json_safe_runs_to_the_mode_file(results_dir):
    model = nn.Conv2d(3, 2, 1)
    first = results.record("plain CNN", make_scores(0.4), track="shapes", options={"width": (16, 32)},
                           params=model, train_seconds=12.5, notebook="01")
    results.record("U-Net", make_scores(0.6), track="shapes", params=1234)
    path = results_dir / "runs_fast.json"  # the tests run in fast mode
    assert results.default_path() == path
    runs = json.loads(path.read_text())
    assert runs == results.load_runs()
    assert [run["name"] for run in runs] == ["plain CNN", "U-Net"]
    assert first == runs[0]
    assert runs[0]["params"] == 3 * 2 + 2 and runs[0]["options"] == {"width": [16, 32]}
    assert runs[0]["mode"] == "fast" and runs[0]["notebook"] == "01" and runs[0]["timestamp"]
    assert runs[0]["scores"]["miou"] == 0.4 and runs[0]["scores"]["class_iou"]["disk"] is None
    assert [p.name for p in results_dir.iterdir()] == ["runs_fast.json"]  # no temporary file left


def test_compare_keeps_the_latest_run_per_name_and_notes_missing_ones(results_dir):
    results.record("FCN-32s", make_scores(0.3), track="thin")
    results.record("U-Net", make_scores(0.5), track="thin")
    results.record("FCN-32s", make_scores(0.35), track="thin")
    results.record("U-Net", make_scores(0.9), track="shapes")
    table = results.compare(track="thin")
    assert [(row["name"], row["miou"]) for row in table] == [("U-Net", 0.5), ("FCN-32s", 0.35)]
    assert len(results.compare(track="thin", latest_only=False)) == 3
    table = results.compare(["FCN-32s", "FCN-8s", "U-Net"], track="thin")
    assert [row["name"] for row in table] == ["FCN-32s", "U-Net"]
    assert table.missing == ["FCN-8s"]
    text = repr(table)
    assert text.splitlines()[0].split()[:3] == ["model", "track", "mIoU"]
    assert "0.350" in text and "not recorded yet" in text and "FCN-8s" in text
    html = table._repr_html_()
    assert html.count("<tr>") == 3 and "<th>boundary IoU</th>" in html


def test_empty_and_broken_registries(results_dir):
    assert results.load_runs() == [] and len(results.compare()) == 0
    assert "no recorded runs" in repr(results.compare())
    (results_dir / "runs_fast.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON.*rename or delete"):
        results.record("x", make_scores(0.1), track="shapes")
    with pytest.raises(TypeError, match=r"run\['options'\]\['device'\] is a device"):
        results.record("x", make_scores(0.1), track="shapes", path=results_dir / "other.json",
                       options={"device": torch.device("cpu")})
    assert not (results_dir / "other.json").exists()
