"""Checkers of notebook 08 and segedu.leaderboard.report, on a small fake leaderboard (made here, never in the repo)."""

import statistics

import pytest

from segedu.course.checks import nb08
from segedu.leaderboard import report as board
from segedu.leaderboard.claims import Claim


def record(model, track, seed, miou, latency, params=1000, labelled=None):
    return {"run": model, "track": track, "seed": seed, "miou": miou, "boundary": miou / 2, "completed": True,
            "size_iou": {"small": miou, "medium": miou, "large": miou}, "params": params,
            "train_seconds": 10.0, "latency_ms": latency, "receptive_field": [21, 21], "labelled": labelled}


@pytest.fixture
def records():
    # mixed: unet best mIoU, plain fastest, encdec best mIoU per ms (0.5/2 = 0.25 vs 0.8/8 and 0.2/1)
    return [
        record("unet", "mixed", 0, 0.80, 8.0), record("unet", "mixed", 1, 0.70, 8.0),
        record("unet", "mixed", 2, 0.90, 8.0),
        record("plain", "mixed", 0, 0.20, 1.0), record("plain", "mixed", 1, 0.20, 1.0),
        record("encdec", "mixed", 0, 0.50, 2.0), record("encdec", "mixed", 1, 0.50, 2.0),
        record("unet", "thin", 0, 0.10, 8.0), record("unet", "thin", 1, 0.20, 8.0),
        record("fcn8s_pretrained", "shapes", 0, 0.6, 3.0, labelled=64),
    ]


def test_median_miou(records):
    assert nb08.reference_median_miou(records, "unet", "mixed") == pytest.approx(0.80)
    assert nb08.check_median_miou(0.80, records, "unet", "mixed")
    assert "not done yet" in nb08.check_median_miou(..., records, "unet", "mixed").message
    records = [*records, record("unet", "mixed", 3, 0.0, 8.0)]  # mean 0.6, median 0.75
    assert "mean" in nb08.check_median_miou(0.6, records, "unet", "mixed").message
    assert "best seed" in nb08.check_median_miou(0.9, records, "unet", "mixed").message
    mixed_tracks = statistics.median(r["miou"] for r in records if r["run"] == "unet")
    assert "mixes tracks" in nb08.check_median_miou(mixed_tracks, records, "unet", "mixed").message
    assert not nb08.check_median_miou(0.1234, records, "unet", "mixed")
    assert not nb08.check_median_miou("high", records, "unet", "mixed")


def test_best_per_ms(records):
    assert nb08.reference_best_per_ms(records, "mixed") == "encdec"
    assert nb08.check_best_per_ms("encdec", records, "mixed")
    assert "not done yet" in nb08.check_best_per_ms(None, records, "mixed").message
    assert "best mIoU, but" in nb08.check_best_per_ms("unet", records, "mixed").message
    assert "fastest" in nb08.check_best_per_ms("plain", records, "mixed").message
    assert "no record" in nb08.check_best_per_ms("pspnet", records, "mixed").message
    assert "string" in nb08.check_best_per_ms(3, records, "mixed").message


def test_cost_rows_and_tables(records):
    rows = board.cost_rows(records)
    assert [(r["track"], r["run"]) for r in rows][:3] == [("mixed", "unet"), ("mixed", "encdec"), ("mixed", "plain")]
    unet = rows[0]
    assert unet["seeds"] == 3 and unet["miou"] == pytest.approx(0.8) and unet["miou_per_ms"] == pytest.approx(0.1)
    assert unet["receptive_field"] == 21
    table = board.markdown_table(rows)
    assert table.count("\n") == len(rows) + 1 and "fcn8s_pretrained (64 labelled)" in table
    assert "none of the course's claims" in board.claims_markdown([])
    claims = [Claim("a claim", True, 0.05, (0.1, 0.07), (0, 1)), Claim("another", False, 0.0, (-0.01,), (0,))]
    text = board.claims_markdown(claims)
    assert "| a claim | yes | +0.05 | +0.070 | +0.100, +0.070 |" in text and "**no**" in text


def test_plot_cost(records):
    figure = board.plot_cost(records, x="latency_ms")
    axes = [ax for ax in figure.axes if ax.get_title()]
    assert [ax.get_title() for ax in axes] == ["mixed", "thin"]  # shapes has only a labelled run
    assert len(axes[0].lines) == 3 and axes[0].get_xscale() == "log"
    assert board.plot_cost(records, x="params")
    with pytest.raises(ValueError, match="x must be"):
        board.plot_cost(records, x="colour")
    with pytest.raises(ValueError, match="no record"):
        board.plot_cost([])
