"""Checkers of notebook 09 and segedu.leaderboard.report, on a small fake leaderboard (made here, never in the repo)."""

import numpy as np
import pytest
import torch

from segedu.course.checks import nb09
from segedu.experiments.claims import Claim
from segedu.leaderboard import report as board
from segedu.leaderboard.verdicts import Verdict


def record(model, track, seed, miou, latency, params=1000, labelled=None, completed=True):
    return {"run": model, "track": track, "seed": seed, "miou": miou, "boundary": miou / 2, "completed": completed,
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
        record("fcn8s_pretrained", "shapes", 0, 0.6, 1.5, labelled=64),
    ]


def test_best_per_ms(records):
    assert nb09.best_per_ms(records, "mixed") == {"encdec"}
    result = nb09.check_best_per_ms("encdec", records, "mixed")
    assert result and "0.2500 per ms" in result.message
    assert nb09.check_best_per_ms(" encdec ", records, "mixed")
    assert "not done yet" in nb09.check_best_per_ms(None, records, "mixed").message
    assert "not done yet" in nb09.check_best_per_ms(..., records, "mixed").message
    assert "best mIoU on mixed, but" in nb09.check_best_per_ms("unet", records, "mixed").message
    assert "fastest" in nb09.check_best_per_ms("plain", records, "mixed").message
    assert "string" in nb09.check_best_per_ms(3, records, "mixed").message
    assert "no record is called 'pspnet'" in nb09.check_best_per_ms("pspnet", records, "mixed").message


def test_best_per_ms_is_accepted_on_whatever_track_is_asked(records):
    # issue 17: on shapes the best row of the table (a run with a labelled limit) was rejected as "no record on
    # shapes". Every row of the track's table counts: plain 0.1 per ms, encdec 0.25, fcn8s_pretrained@64 0.4.
    records = [*records, record("plain", "shapes", 0, 0.4, 4.0), record("encdec", "shapes", 0, 0.5, 2.0)]
    assert nb09.best_per_ms(records, "shapes") == {"fcn8s_pretrained (64 labelled)"}
    result = nb09.check_best_per_ms("fcn8s_pretrained", records, "shapes")
    assert result and "fcn8s_pretrained (64 labelled) gives the most" in result.message
    assert nb09.check_best_per_ms("fcn8s_pretrained (64 labelled)", records, "shapes")
    assert nb09.check_best_per_ms("unet", records, "thin")
    assert nb09.check_best_per_ms("encdec", records, "mixed")
    all_scenes = nb09.check_best_per_ms("encdec", records, "shapes")
    assert not all_scenes and "best of the runs trained on all the scenes" in all_scenes.message
    other_track = nb09.check_best_per_ms("unet", records, "shapes")
    assert not other_track and "has records on mixed, thin, not on shapes" in other_track.message


def test_best_per_ms_accepts_every_tied_run_and_ignores_stopped_records(records):
    records = [*records, record("wide", "mixed", 0, 1.0, 4.0)]  # 0.25 per ms, like encdec
    assert nb09.best_per_ms(records, "mixed") == {"encdec", "wide"}
    assert nb09.check_best_per_ms("wide", records, "mixed") and nb09.check_best_per_ms("encdec", records, "mixed")
    stopped = [*records, record("tiny", "mixed", 0, 0.9, 0.1, completed=False)]
    assert nb09.best_per_ms(stopped, "mixed") == {"encdec", "wide"}
    assert "never counts" in nb09.check_best_per_ms("tiny", stopped, "mixed").message
    no_latency = [*records, {**record("blind", "mixed", 0, 0.99, 1.0), "latency_ms": None}]
    assert nb09.best_per_ms(no_latency, "mixed") == {"encdec", "wide"}
    assert "no measured latency" in nb09.check_best_per_ms("blind", no_latency, "mixed").message


def test_best_per_ms_diagnoses_an_inverted_ratio_and_means():
    board = [record("fast", "t", 0, 0.30, 1.0), record("slow", "t", 0, 0.31, 10.0),
             record("middle", "t", 0, 0.9, 3.0), record("best", "t", 0, 0.95, 2.0)]
    assert nb09.best_per_ms(board, "t") == {"best"}
    assert "latency / mIoU" in nb09.check_best_per_ms("slow", board, "t").message
    # medians pick a (0.5 / 1.0), means pick b: a's seeds 0.5, 0.5, 0.0 (mean 1/3) over 1 ms
    board = [record("a", "t", s, m, 1.0) for s, m in enumerate((0.5, 0.5, 0.0))]
    board += [record("b", "t", s, m, 1.0) for s, m in enumerate((0.4, 0.4, 0.4))]
    board += [record("c", "t", 0, 0.9, 30.0), record("d", "t", 0, 0.1, 0.5)]
    assert nb09.best_per_ms(board, "t") == {"a"}
    assert "means over seeds" in nb09.check_best_per_ms("b", board, "t").message


def test_smallest_margin(records):
    # unet minus encdec on mixed: seed 0 +0.30, seed 1 +0.20 (seed 2 has no encdec)
    assert nb09.per_seed_margins(records, "mixed", "unet", "encdec") == pytest.approx({0: 0.30, 1: 0.20})
    result = nb09.check_smallest_margin(0.2, records, "mixed", "unet", "encdec")
    assert result and "in every seed" in result.message and "seed 1: +0.200" in result.message
    assert "not done yet" in nb09.check_smallest_margin(..., records, "mixed", "unet", "encdec").message
    assert "wrong sign" in nb09.check_smallest_margin(-0.2, records, "mixed", "unet", "encdec").message
    assert "medians" in nb09.check_smallest_margin(0.3, records, "mixed", "unet", "encdec").message
    assert "mean margin" in nb09.check_smallest_margin(0.25, records, "mixed", "unet", "encdec").message
    assert "percentage" in nb09.check_smallest_margin(20, records, "mixed", "unet", "encdec").message
    assert "a number" in nb09.check_smallest_margin("big", records, "mixed", "unet", "encdec").message
    assert "no seed" in nb09.check_smallest_margin(0.1, records, "thin", "unet", "encdec").message
    assert not nb09.check_smallest_margin(0.123, records, "mixed", "unet", "encdec")


def test_smallest_margin_diagnoses_unpaired_seeds_and_stopped_records():
    board = [record("a", "t", 0, 0.80, 1.0), record("a", "t", 1, 0.65, 1.0),
             record("b", "t", 0, 0.70, 1.0), record("b", "t", 1, 0.50, 1.0)]
    assert nb09.check_smallest_margin(0.1, board, "t", "a", "b")
    assert "worst seed with b's best" in nb09.check_smallest_margin(-0.05, board, "t", "a", "b").message
    stopped = [*board, record("a", "t", 2, 0.10, 1.0, completed=False), record("b", "t", 2, 0.50, 1.0)]
    assert nb09.per_seed_margins(stopped, "t", "a", "b") == pytest.approx({0: 0.1, 1: 0.15})
    assert "stopped before the end" in nb09.check_smallest_margin(-0.4, stopped, "t", "a", "b").message
    losing = nb09.check_smallest_margin(-0.1, [*board[:2], record("b", "t", 0, 0.9, 1.0), board[3]], "t", "a", "b")
    assert losing and "not in every seed" in losing.message
    close = nb09.check_smallest_margin(0.01, [board[0], record("b", "t", 0, 0.79, 1.0)], "t", "a", "b")
    assert close and "within the noise" in close.message


def test_pareto_front(records):
    # mixed: unet (0.80, 8 ms), encdec (0.50, 2 ms), plain (0.20, 1 ms): nothing beats another on both counts
    assert nb09.pareto_front(records, "mixed") == {"unet", "encdec", "plain"}
    result = nb09.check_pareto_front(["plain", "encdec", "unet"], records, "mixed")
    assert result and result.message.index("plain") < result.message.index("unet")
    assert nb09.check_pareto_front({"unet", "encdec", "plain"}, records, "mixed")
    board = [*records, record("slowpoke", "mixed", 0, 0.45, 3.0)]  # beaten by encdec on both counts
    assert nb09.pareto_front(board, "mixed") == {"unet", "encdec", "plain"}
    wrong = nb09.check_pareto_front(["unet", "encdec", "plain", "slowpoke"], board, "mixed")
    assert not wrong and "slowpoke is beaten on both counts by encdec" in wrong.message
    assert "most accurate" in nb09.check_pareto_front(["unet"], board, "mixed").message
    missing = nb09.check_pareto_front(["unet", "encdec"], board, "mixed")
    assert "plain is missing" in missing.message and "cheapest" in missing.hint
    assert "not done yet" in nb09.check_pareto_front(..., board, "mixed").message
    assert "list or set" in nb09.check_pareto_front("unet", board, "mixed").message
    assert "a string" in nb09.check_pareto_front([1, 2], board, "mixed").message
    assert "not on mixed" in nb09.check_pareto_front(["unet", "encdec", "plain", "fcn"], [
        *board, record("fcn", "thin", 0, 0.3, 1.0)], "mixed").message
    assert "no completed run" in nb09.check_pareto_front(["x"], board, "harbour").message


def test_cost_rows_and_tables(records):
    rows = board.cost_rows(records)
    assert [(r["track"], r["run"]) for r in rows][:3] == [("mixed", "unet"), ("mixed", "encdec"), ("mixed", "plain")]
    unet = rows[0]
    assert unet["seeds"] == 3 and unet["miou"] == pytest.approx(0.8) and unet["miou_per_ms"] == pytest.approx(0.1)
    assert unet["receptive_field"] == 21
    table = board.markdown_table(rows)
    assert table.count("\n") == len(rows) + 1 and "fcn8s_pretrained (64 labelled)" in table
    assert "per ms" not in table  # exercise 1 of notebook 09 asks for it: the table must not answer it
    assert "none of the course's claims" in board.claims_markdown([])
    claims = [Verdict(Claim("a", "thin", "level", ("unet",), 0.05, "a claim"), "a claim", True, (0.1, 0.07), (0, 1)),
              Verdict(Claim("b", "thin", "level", ("unet",), 0.0, "another"), "another", False, (-0.01,), (0,))]
    text = board.claims_markdown(claims)
    assert "| a claim | yes | +0.05 | +0.070 | +0.100, +0.070 |" in text and "**no**" in text


def test_plot_cost(records):
    figure = board.plot_cost(records, x="latency_ms")
    axes = [ax for ax in figure.axes if ax.get_title()]
    assert [ax.get_title() for ax in axes] == ["mixed", "thin"]  # shapes has only a labelled run
    assert len(axes[0].lines) == 3 and axes[0].get_xscale() == "log"
    assert board.plot_cost(records, x="params")
    styles = {}
    for ax in axes:
        drawn = ax.get_lines()
        assert drawn[-1].get_ydata()[0] == max(line.get_ydata()[0] for line in drawn)  # the best run on top
        assert drawn[-1].get_zorder() == max(line.get_zorder() for line in drawn)
        for line in drawn:
            styles.setdefault(line.get_label(), set()).add((line.get_marker(), line.get_color()))
    assert all(len(style) == 1 for style in styles.values())  # one colour and marker per run, in every panel
    assert len({next(iter(style)) for style in styles.values()}) == len(styles)  # and no two runs alike
    with pytest.raises(ValueError, match="x must be"):
        board.plot_cost(records, x="colour")
    with pytest.raises(ValueError, match="no record"):
        board.plot_cost([])


@pytest.fixture
def close_margin():
    # a minus b: seed 0 +0.30, seed 1 +0.17796 (the smallest)
    return [record("a", "t", 0, 0.80, 1.0), record("a", "t", 1, 0.70, 1.0),
            record("b", "t", 0, 0.50, 1.0), record("b", "t", 1, 0.52204, 1.0)]


def test_smallest_margin_accepts_the_rounding_to_three_decimals_or_more(close_margin):
    """Issue 26: 0.178, the correctly rounded 0.17796, was refused (tolerance 1e-6)."""
    assert nb09.per_seed_margins(close_margin, "t", "a", "b")[1] == pytest.approx(0.17796)
    for answer in (0.178, 0.1780, 0.17796, 0.1779600, 0.8 - 0.5 - 0.12204, np.float64(0.178), torch.tensor(0.178)):
        result = nb09.check_smallest_margin(answer, close_margin, "t", "a", "b")
        assert result, (answer, result)
    rounded = nb09.check_smallest_margin(0.178, close_margin, "t", "a", "b")
    assert "correctly rounded to 3 decimals" in rounded.message and "3 decimals or more" in rounded.message
    assert "rounded" not in nb09.check_smallest_margin(0.70 - 0.52204, close_margin, "t", "a", "b").message


@pytest.mark.parametrize("answer, words", [(0.177, "not rounded correctly (or truncated): to 3 decimals it is +0.178"),
                                           (0.1779, "to 4 decimals it is +0.1780"),
                                           (0.18, "rounded to 2 decimal(s): give at least 3"),
                                           (-0.178, "wrong sign"), (17.8, "percentage"), (0.25, "not the smallest")])
def test_smallest_margin_refuses_a_wrong_rounding_and_says_which(close_margin, answer, words):
    result = nb09.check_smallest_margin(answer, close_margin, "t", "a", "b")
    assert not result and words in result.message, result


def test_the_leaderboard_checkers_check_their_records_and_names(close_margin):
    """Issue 26: records=None raised TypeError."""
    for checker, answer in ((nb09.check_best_per_ms, "a"), (nb09.check_pareto_front, ["a"])):
        assert "records should be a list of record dicts, got None" in checker(answer, None, "t").message
        assert "track should be a name" in checker(answer, close_margin, None).message
    assert "records should be" in nb09.check_smallest_margin(0.2, None, "t", "a", "b").message
    assert "better should be a name" in nb09.check_smallest_margin(0.2, close_margin, "t", 3, "b").message
    broken = [*close_margin, {**close_margin[0], "seed": 2, "miou": 1.7}]
    assert "mIoU 1.7, not a score between 0 and 1" in nb09.check_smallest_margin(0.2, broken, "t", "a", "b").message
    missing = [*close_margin, {"run": "a"}]
    assert "lacks the field(s) track, seed, miou" in nb09.check_pareto_front(["a"], missing, "t").message
    assert "is nan" in nb09.check_smallest_margin(float("nan"), close_margin, "t", "a", "b").message
    assert "list or set" in nb09.check_pareto_front(torch.tensor(3.0), close_margin, "t").message
    assert nb09.check_pareto_front(np.array(["a"]), close_margin, "t")


def test_a_run_with_an_miou_of_zero_is_compared_like_any_other():
    """A model that gets nothing right has mIoU 0: its milliseconds per mIoU are infinite, not a ZeroDivisionError."""
    board = [record("zero", "t", 0, 0.0, 1.0), record("best", "t", 0, 0.9, 2.0), record("mid", "t", 0, 0.3, 3.0),
             record("fast", "t", 0, 0.1, 0.5)]
    assert nb09.best_per_ms(board, "t") == {"best"}
    result = nb09.check_best_per_ms("zero", board, "t")
    assert not result and "latency / mIoU" in result.message


def test_records_whose_completed_or_miou_cannot_be_read_are_named():
    board = [record("a", "t", 0, 0.5, 1.0), record("b", "t", 0, 0.4, 1.0)]
    flag = [board[0], {**board[1], "completed": np.array([True, False])}]
    assert "completed=array([ True, False]), not True or False" in nb09.check_pareto_front(["a"], flag, "t").message
    unscored = [board[0], {**board[1], "miou": None}]
    assert "mIoU None, not a score" in nb09.check_smallest_margin(0.1, unscored, "t", "a", "b").message
    stopped = [board[0], {**board[1], "miou": None, "completed": False}]  # a stopped record may lack a score
    assert "no seed has a completed record" in nb09.check_smallest_margin(0.1, stopped, "t", "a", "b").message


def test_plot_cost_gives_up_to_twenty_runs_twenty_colours():
    many = [record(f"run{i}", "thin", 0, 0.3 + 0.01 * i, 1.0 + i) for i in reversed(range(15))]  # best first
    lines = [ax for ax in board.plot_cost(many).axes if ax.get_title() == "thin"][0].get_lines()
    assert len(lines) == 15 and len({line.get_color() for line in lines}) == 15
    assert lines[-1].get_label() == "run14"  # the best, drawn last
