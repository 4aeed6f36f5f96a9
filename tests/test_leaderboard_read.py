"""segedu.leaderboard's reading API (per_seed, claim, claims, best, summary) on made-up records, and on the committed
leaderboard: the numbers the notebooks print from it are the committed records'."""

import re
import statistics
from pathlib import Path

import pytest

from segedu import experiments, leaderboard
from segedu.experiments.results import NOISE, rank
from segedu.leaderboard import records as records_module


def record(run, track, seed, miou, labelled=None, completed=True, **extra):
    return {"run": run, "track": track, "seed": seed, "labelled": labelled, "miou": miou, "completed": completed,
            **extra}


@pytest.fixture
def board():
    # context: pspnet best in seeds 0-2 (shared by every run), pspnet_b1 best over its 5 seeds; unet far behind.
    scores = {"pspnet": [0.90, 0.91, 0.89, 0.80, 0.80], "pspnet_b1": [0.89, 0.90, 0.88, 0.95, 0.95],
              "pspnet_max": [0.85, 0.86, 0.87], "unet": [0.5, 0.5, 0.5, 0.5, 0.5]}
    made = [record(run, "context", seed, miou) for run, values in scores.items() for seed, miou in enumerate(values)]
    return made + [record("pspnet", "context", 5, 0.1, completed=False)]


# ------------------------------------------------------------------------------------------------- per_seed


def test_a_per_seed_table_has_a_column_per_seed_a_dash_where_a_run_has_none_and_each_rows_median(board):
    table = leaderboard.per_seed("context", ["pspnet", "pspnet_max"], records=board)
    assert table.seeds == [0, 1, 2, 3, 4] and list(table) == ["pspnet", "pspnet_max"]
    assert table["pspnet"] == {0: 0.90, 1: 0.91, 2: 0.89, 3: 0.80, 4: 0.80}  # the stopped seed 5 does not count
    assert table.median("pspnet") == 0.89 and table.median("pspnet_max") == 0.86
    text = repr(table).splitlines()
    assert text[0] == "mIoU on context, per seed ('-': no record for that seed)"
    assert text[1].split() == ["seed", "0", "seed", "1", "seed", "2", "seed", "3", "seed", "4", "median"]
    assert text[3].split() == ["pspnet_max", "0.850", "0.860", "0.870", "-", "-", "0.860"]
    assert "<td>-</td>" in table._repr_html_() and "<caption>mIoU on context" in table._repr_html_()
    with pytest.raises(KeyError, match="'unet' is not a row of this table; its rows: pspnet, pspnet_max"):
        table["unet"]


def test_by_default_a_table_shows_the_tracks_runs_in_the_order_of_the_table(board):
    table = leaderboard.per_seed("context", records=board)
    assert list(table) == [run for run in experiments.TRACKS["context"].runs]
    assert table["pspnet_noppm"] == {}  # a run of the track without a record: a row of dashes
    with pytest.raises(ValueError, match="no run of track 'forest' in these records"):
        leaderboard.per_seed("forest", records=board)


def test_differences_from_one_row_are_per_seed_over_the_seeds_both_have(board):
    gaps = leaderboard.per_seed("context", ["pspnet", "pspnet_max", "pspnet_b1"], records=board).minus("pspnet_b1")
    assert list(gaps) == ["pspnet - pspnet_b1", "pspnet_max - pspnet_b1"]
    assert gaps["pspnet_max - pspnet_b1"] == pytest.approx({0: -0.04, 1: -0.04, 2: -0.01})
    assert "+0.010" in repr(gaps) and "-0.150" in repr(gaps)


def test_several_metrics_of_one_run_are_rows_of_one_table():
    made = [record("plain", "shapes", seed, 0.5 + seed / 10, size_iou={"small": 0.6, "large": 0.3 + seed / 10})
            for seed in range(3)]
    table = leaderboard.per_seed("shapes", "plain", ["miou", "size:large"], records=made)
    assert list(table) == ["miou", "size:large"] and table["size:large"] == pytest.approx({0: 0.3, 1: 0.4, 2: 0.5})
    both = leaderboard.per_seed("shapes", ["plain"], ["miou", "size:small"], records=made)
    assert list(both) == ["miou", "size:small"]


# ---------------------------------------------------------------------------------------------------- best


def test_the_best_run_is_the_best_median_over_the_seeds_every_compared_run_has(board):
    ranking = leaderboard.best("context", records=board)
    assert ranking.seeds == (0, 1, 2)  # pspnet_max trains on three seeds only
    assert list(ranking.medians) == ["pspnet", "pspnet_b1", "pspnet_max", "unet"]
    assert ranking.run == "pspnet" and ranking.runner_up == "pspnet_b1"
    assert ranking.lead == pytest.approx({0: 0.01, 1: 0.01, 2: 0.01})
    assert ranking.within_noise() and not ranking.within_noise(0.005)
    assert "pspnet minus pspnet_b1, per seed: +0.010, +0.010, +0.010: within noise" in repr(ranking)
    # Over the two runs alone, all five seeds count: then pspnet_b1 is the best.
    pair = leaderboard.best("context", ["pspnet", "pspnet_b1"], records=board)
    assert pair.seeds == (0, 1, 2, 3, 4) and pair.run == "pspnet_b1"


def test_a_tie_goes_to_the_run_listed_first_and_missing_runs_are_left_out():
    made = [record(run, "thin", seed, 0.5) for run in ("fcn8s", "fcn16s") for seed in range(2)]
    assert leaderboard.best("thin", ["fcn16s", "fcn8s", "unet"], records=made).run == "fcn16s"
    assert leaderboard.best("thin", ["fcn8s", "fcn16s"], records=made).run == "fcn8s"
    assert leaderboard.best("thin", ["fcn8s"], records=made).runner_up is None
    with pytest.raises(ValueError, match="no seed has a counted record of every one of unet, encdec on thin"):
        leaderboard.best("thin", ["unet", "encdec"], records=made)
    apart = [record("unet", "thin", 0, 0.9), record("encdec", "thin", 1, 0.5)]
    assert rank(apart, "thin", ["unet", "encdec"]) is None  # no seed in common: nothing to compare like with like


# ---------------------------------------------------------------------------------------------- claims


def test_a_claim_is_found_by_its_id_and_says_what_is_missing_when_the_records_cannot_decide_it(board):
    verdict = leaderboard.claim("context.pspnet_vs_unet", records=board)
    assert verdict.holds and verdict.seeds == (0, 1, 2, 3, 4)
    assert verdict.per_seed == pytest.approx((0.40, 0.41, 0.39, 0.30, 0.30)) and verdict.needs == 0.0
    missing = leaderboard.claim("context.pspnet_vs_noppm", records=board)
    assert not missing.decided and repr(missing).startswith("not decided: context: PSPNet beats")
    assert "--only 'pspnet_noppm/context'" in repr(missing)
    with pytest.raises(ValueError, match="no claim 'context.best'"):
        leaderboard.claim("context.best", records=board)


def test_the_same_claim_can_be_asked_of_other_runs(board):
    verdict = leaderboard.claim("context.pspnet_vs_unet", runs=["pspnet_max", "pspnet_b1"], records=board)
    assert verdict.text == "context: pspnet_max at least matches pspnet_b1 on mIoU"
    assert not verdict.holds and verdict.seeds == (0, 1, 2) and verdict.seeds_holding == ()


def test_the_claims_of_a_track_are_decided_verdicts_shown_one_per_line_or_as_a_table(board):
    found = leaderboard.claims("context", records=board)
    assert [verdict.id for verdict in found] == ["context.pspnet_vs_unet"]  # the other lacks pspnet_noppm
    assert repr(found).startswith("holds in every seed: context: PSPNet at least matches U-Net (smallest +0.300")
    assert found._repr_markdown_().startswith("| claim | holds in every seed |")
    assert repr(leaderboard.claims("thin", records=board)) == "no claim decided by these records"


def test_a_summary_has_each_runs_seeds_and_medians_best_first(board):
    table = leaderboard.summary("context", {"mIoU": "miou", "twice": lambda r: 2 * r["miou"]}, records=board)
    assert list(table) == ["pspnet_b1", "pspnet", "pspnet_max", "unet"]  # medians over each run's own seeds
    assert table.row("pspnet_b1") == pytest.approx({"mIoU": 0.90, "twice": 1.80})
    assert table.seeds["pspnet_max"] == 3 and table.median("unet", "mIoU") == 0.5 and "unet" in table
    assert repr(table).splitlines()[1].split() == ["run", "seeds", "mIoU", "twice"]


# ------------------------------------------------------------------------------- the committed leaderboard


REPOSITORY = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def committed():
    return records_module.load(REPOSITORY / "results" / "leaderboard.json")


def test_every_claims_verdict_is_the_one_the_committed_markdown_shows(committed):
    text = (REPOSITORY / "results" / "leaderboard.md").read_text()
    rows = re.findall(r"^\| (.+?) \| (yes|\*\*no\*\*) \| ([+-][\d.]+) \| ([+-][\d.]+) \| (.+?) \|$", text, re.M)
    verdicts = leaderboard.claims(records=committed)
    assert len(rows) == len(verdicts) == len(experiments.CLAIMS) == 26
    for verdict, (sentence, holds, needs, smallest, per_seed) in zip(verdicts, rows, strict=True):
        assert verdict.text == sentence and verdict.holds == (holds == "yes")
        assert f"{verdict.needs:+.2f}" == needs and f"{verdict.smallest:+.3f}" == smallest
        assert per_seed == ("median" if not verdict.seeds else ", ".join(f"{v:+.3f}" for v in verdict.per_seed))
    assert sum(verdict.holds for verdict in verdicts) == 18


def test_the_numbers_the_notebooks_read_are_the_committed_records(committed):
    def miou(run, track, seed, labelled=None):
        return next(r["miou"] for r in committed if (r["run"], r["track"], r["seed"], r.get("labelled")) ==
                    (run, track, seed, labelled))

    table = leaderboard.per_seed("harbour", records=committed)  # notebook 05's harbour rows
    assert table["pspnet"] == {seed: miou("pspnet", "harbour", seed) for seed in range(5)}
    assert table.median("pspnet_noppm") == statistics.median(miou("pspnet_noppm", "harbour", s) for s in range(5))
    pretraining = leaderboard.per_seed("shapes", labelled=64, records=committed)  # notebook 06
    assert list(pretraining) == ["fcn8s_pretrained", "fcn8s_scratch"] and len(pretraining.seeds) == 5
    skips = leaderboard.claim("thin.unet_s32_vs_encdec", records=committed)  # notebook 04
    assert skips.margins == {s: miou("unet_s32", "thin", s) - miou("encdec", "thin", s) for s in range(5)}


def test_notebooks_05_and_08_agree_on_the_best_run_of_context_and_say_it_is_within_noise(committed):
    ranking = leaderboard.best("context", records=committed)
    assert ranking.run == "pspnet" and ranking.runner_up == "pspnet_b1" and ranking.seeds == (0, 1, 2)
    assert ranking.within_noise() and max(ranking.lead.values()) < NOISE
    assert leaderboard.best("mixed", records=committed).run == "unet_context"  # the run of claim mixed.best_reaches
