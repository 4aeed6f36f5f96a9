"""segedu.experiments: the table of tracks and claims is consistent, its data loads, and metrics read records."""

import dataclasses

import pytest
import torch

from segedu import experiments
from segedu.data import CLASSES, SyntheticScenes
from segedu.experiments import claims, results, tracks
from segedu.experiments.claims import Claim
from segedu.experiments.recipes import Recipe
from segedu.leaderboard import verdicts


def record(run, track, seed, miou, **extra):
    return {"run": run, "track": track, "seed": seed, "labelled": None, "miou": miou, "completed": True, **extra}


# -------------------------------------------------------------------------------------------- the tables


def test_every_claim_has_a_unique_id_named_after_its_track_and_compares_runs_its_track_trains():
    ids = [claim.id for claim in experiments.CLAIMS]
    assert len(ids) == len(set(ids)) == 26
    for claim in experiments.CLAIMS:
        assert claim.id.startswith(f"{claim.track}.") and claim.track in experiments.TRACKS
        track = experiments.TRACKS[claim.track]
        trained = track.labelled_runs if claim.labelled else track.runs
        assert set(claim.runs) <= set(trained), claim.id
        assert claim.labelled is None or claim.labelled in track.labelled
        results.check_metric(claim.metric)


def test_every_run_a_claim_compares_trains_on_every_seed():
    for claim in experiments.CLAIMS:
        compared = claim.runs if claim.kind != "best" else ()  # the best run is any of the track's runs
        assert not set(compared) & set(experiments.TRACKS[claim.track].few_seed_runs), claim.id
        if claim.kind == "best":
            assert claim.runs == experiments.TRACKS[claim.track].runs


def test_each_track_is_named_after_its_recipe_and_its_quick_and_few_seed_runs_are_its_own():
    for name, track in experiments.TRACKS.items():
        assert track.name == track.recipe.track == name
        assert set(track.few_seed_runs) <= set(track.runs) and set(track.quick_runs) <= set(track.runs)
        assert set(track.quick_labelled) <= set(track.labelled)
        every_seed = next(run for run in track.runs if run not in track.few_seed_runs)
        assert list(track.seeds_of(every_seed)) == list(range(experiments.SEEDS))
    assert list(experiments.TRACKS["mixed"].seeds_of("unet_ppm")) == list(range(experiments.FEW_SEEDS))


def test_a_claim_is_checked_when_it_is_written():
    with pytest.raises(ValueError, match="unknown kind 'worse'"):
        Claim("thin.x", "thin", "worse", ("unet", "encdec"), 0.1, "x")
    with pytest.raises(ValueError, match="compares 2 run"):
        Claim("thin.x", "thin", "better", ("unet",), 0.1, "x")
    with pytest.raises(ValueError, match="unknown metric 'dice'"):
        Claim("thin.x", "thin", "level", ("unet",), 0.1, "x", metric="dice")
    with pytest.raises(ValueError, match="a claim's metric is a name"):
        Claim("thin.x", "thin", "level", ("unet",), 0.1, "x", metric=len)
    with pytest.raises(ValueError, match="no claim 'thin.nothing'; the claims are: shapes.encdec_vs_plain"):
        claims.find("thin.nothing")


def test_claims_of_a_track_leave_out_those_on_a_labelled_limit_unless_asked():
    assert [claim.id for claim in claims.of_track("shapes")] == ["shapes.encdec_vs_plain", "shapes.gain_on_large_objects"]
    assert [claim.id for claim in claims.of_track("shapes", 64)] == ["shapes.pretrained_vs_scratch"]
    assert claims.of_track(None) == experiments.CLAIMS


def test_the_same_claim_asked_of_other_runs_gets_a_sentence_of_its_own():
    boat = claims.find("mixed.context_boat").for_runs(["unet_ppm"])
    assert (boat.runs, boat.needs, boat.metric) == (("unet_ppm",), 0.80, "class:boat")
    assert boat.text == "mixed: unet_ppm's boat IoU >= 0.80" and boat.id == "mixed.context_boat[unet_ppm]"
    wires = claims.find("mixed.context_keeps_wires").for_runs(["unet_ppm", "unet"])
    assert wires.text == "mixed: unet_ppm's wire IoU at most 0.03 below unet's"
    assert claims.find("thin.unet_vs_encdec").for_runs(["fcn8s", "fcn32s"]).text == (
        "thin: fcn8s beats fcn32s by >= 0.10 mIoU")


# ---------------------------------------------------------------------------------------- recipes and data


def test_crops_and_class_weights_are_part_of_a_recipe(monkeypatch):
    monkeypatch.setenv("SEGEDU_FAST", "0")
    plan = Recipe("streets", image_size=180, train_scenes=367, crop_size=128, class_weights=(0.5, 2.0), data="photos")
    assert plan.fit_kwargs()["class_weights"] == [0.5, 2.0]
    assert "random 128 x 128 crops" in str(plan) and "class-weighted loss" in str(plan)
    assert "class_weights" not in experiments.recipe("shapes").fit_kwargs()
    monkeypatch.setenv("SEGEDU_FAST", "1")
    fast = experiments.recipes.in_current_mode(plan)
    assert (fast.image_size, fast.crop_size, fast.train_scenes, fast.class_weights) == (32, 32, 64, (0.5, 2.0))


def test_a_track_gives_its_three_datasets_for_a_seed():
    plan = experiments.recipe("thin")
    train, val, test = experiments.datasets("thin", seed=3)
    assert [len(train), len(val), len(test)] == [plan.train_scenes, plan.val_scenes, plan.test_scenes]
    assert train.seed == 3 and val.seed == test.seed == 0 and train.classes == tuple(CLASSES["thin"])
    image, mask = train[0]
    assert image.shape == (3, plan.image_size, plan.image_size) and mask.dtype == torch.int64
    same = SyntheticScenes("train", "thin", size=plan.image_size, length=plan.train_scenes, seed=3)
    assert torch.equal(train[5][0], same[5][0])  # the benchmark's scenes, drawn by the same generator
    fewer = dataclasses.replace(plan, train_scenes=16)
    assert len(experiments.datasets("thin", 0, fewer)[0]) == 16


def test_where_a_recipe_cannot_get_its_data_it_says_so():
    plan = experiments.recipe("thin")
    with pytest.raises(ValueError, match="takes its scenes from 'cityscapes', which has no loader; known data "
                                         "sources: synthetic, camvid"):
        experiments.datasets("thin", 0, dataclasses.replace(plan, data="cityscapes"))
    with pytest.raises(ValueError, match=r"CamVid photos come at 180 x 240 \(half\) or 360 x 480 \(full\), not \(32, 32\)"):
        experiments.datasets("thin", 0, dataclasses.replace(plan, data="camvid"))
    with pytest.raises(ValueError, match="synthetic scenes are drawn at the size they train on: set image_size=16"):
        experiments.datasets("thin", 0, dataclasses.replace(plan, crop_size=16))
    with pytest.raises(ValueError, match="no recipe for track 'forest'"):
        experiments.datasets("forest")


def test_a_new_data_source_is_one_entry_of_the_table(monkeypatch):
    seen = []

    def photos(plan, seed):
        seen.append((plan.track, plan.crop_size, seed))
        return ("train", "val", "test")

    monkeypatch.setitem(tracks.DATA_SOURCES, "photos", photos)
    street = tracks.Track(Recipe("street", data="photos", crop_size=32), runs=("unet",))
    monkeypatch.setitem(tracks.TRACKS, "street", street)
    assert experiments.datasets("street", seed=2) == ("train", "val", "test")
    assert seen == [("street", 32, 2)]


# --------------------------------------------------------------------------------------------------- metrics


def test_a_metric_reads_one_number_of_a_record():
    made = record("unet", "thin", 0, 0.5, boundary=0.25, size_iou={"small": None, "large": 0.75},
                  class_iou={"pole": 0.1, "sign": 0.3, "pedestrian": None}, receptive_field=[64, 64], params=1000)
    assert results.value(made) == 0.5 and results.value(made, "boundary") == 0.25
    assert results.value(made, "size:large") == 0.75 and results.value(made, "size:small") is None
    assert results.value(made, "class:sign") == 0.3 and results.value(made, "receptive_field") == 64
    # The mean IoU of a group of classes, over those that have an IoU (pedestrian has none: absent everywhere).
    assert results.value(made, "classes:pole,sign,pedestrian") == pytest.approx(0.2)
    assert results.value(made, "classes:pedestrian") is None
    assert results.value(made, lambda r: r["miou"] * 2) == 1.0
    assert results.metric_label("classes:pole,sign") == "mean IoU of pole, sign"
    assert results.metric_label("class:wire") == "wire IoU" and results.metric_label("size:large") == (
        "mIoU of large objects")
    for wrong in ("size:huge", "class:", "dice", 3):
        with pytest.raises(ValueError, match="unknown metric"):
            results.check_metric(wrong)


def test_a_claim_on_a_group_of_classes_is_decided_on_their_mean_iou_in_every_seed():
    claim = Claim("street.skips_on_thin_classes", "street", "better", ("unet", "encdec"), 0.05,
                  "street: U-Net beats the encoder-decoder on pole, sign, pedestrian and bicyclist by >= 0.05",
                  metric="classes:pole,sign,pedestrian,bicyclist")
    thin = {"unet": [(0.2, 0.3, 0.4, 0.1), (0.1, 0.1, 0.1, 0.1)], "encdec": [(0.0, 0.1, 0.2, 0.1), (0.0, 0.1, 0.1, 0.0)]}
    board = [record(run, "street", seed, 0.5, class_iou=dict(zip(("pole", "sign", "pedestrian", "bicyclist"), ious,
                                                                  strict=True)))
             for run, by_seed in thin.items() for seed, ious in enumerate(by_seed)]
    verdict = verdicts.decide(claim, board)
    # seed 0: mean 0.25 - 0.10 = 0.15; seed 1: 0.10 - 0.05 = 0.05
    assert verdict.per_seed == pytest.approx((0.15, 0.05)) and verdict.holds


def test_records_stopped_early_are_left_out_and_medians_are_per_run_track_and_labelled_limit():
    board = [record("unet", "thin", 0, 0.8), record("unet", "thin", 1, 0.6), record("unet", "thin", 2, 0.1, completed=False),
             record("unet", "thin", 0, 0.3, labelled=16)]
    assert results.counted(board) == [board[0], board[1], board[3]]
    assert sorted(results.by_seed(board, "unet", "thin")) == [0, 1]
    table = results.medians(board)
    assert table[("unet", "thin", None)]["miou"] == pytest.approx(0.7) and table[("unet", "thin", None)]["seeds"] == 2
    assert table[("unet", "thin", 16)]["miou"] == 0.3
    assert results.values_by_seed(board, "unet", "thin") == {0: 0.8, 1: 0.6}


def test_apart_is_one_minus_the_worse_swap_share_from_the_confusion_matrix():
    from segedu.experiments.results import check_metric, metric_label, value

    record = {"class_iou": {"background": 1.0, "boat": 0.5, "car": 0.5},
              "confusion": [[50, 0, 0], [0, 90, 10], [0, 3, 97]]}  # 10 % of boats are cars, 3 % of cars boats
    assert value(record, "apart:boat,car") == pytest.approx(0.90)
    assert value(record, "apart:car,boat") == pytest.approx(0.90)
    assert value({"class_iou": record["class_iou"]}, "apart:boat,car") is None  # no confusion matrix
    assert value(record, "apart:boat,wire") is None
    assert "kept apart" in metric_label("apart:boat,car")
    with pytest.raises(ValueError, match="apart:<name>,<name>"):
        check_metric("apart:boat")
