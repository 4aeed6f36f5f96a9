"""Recipes and runs (segedu.experiments): every run builds, fast mode shrinks the budget, and the fairness rule on
parameters holds."""

import pytest

from segedu import experiments as recipes
from segedu.course import recipes as course_recipes
from segedu.data import CLASSES, CamVid
from segedu.models import count_parameters


def test_every_track_has_a_recipe_and_known_runs():
    for name, track in recipes.TRACKS.items():
        assert recipes.recipe(name).track == name == track.name
        for run in (*track.runs, *track.labelled_runs):
            recipes.model_spec(run, name)  # raises on an unknown run


def test_the_notebooks_old_names_still_answer():
    assert course_recipes.RECIPES == {name: track.recipe for name, track in recipes.TRACKS.items()}
    assert course_recipes.TRACK_RUNS["thin"] == recipes.TRACKS["thin"].runs
    assert course_recipes.recipe is recipes.recipe and course_recipes.build_run is recipes.build_run


@pytest.mark.parametrize("track", list(recipes.TRACKS))
def test_compared_models_have_parameter_counts_within_a_factor_of_3(track):
    unmatched = recipes.TRACKS[track].unmatched_runs
    counts = {run: count_parameters(recipes.build_run(run, num_classes(track), track))
              for run in recipes.TRACKS[track].runs if run not in unmatched}
    assert max(counts.values()) <= 3 * min(counts.values()), counts


def num_classes(track: str) -> int:
    return len(CamVid.classes) if recipes.TRACKS[track].recipe.data == "camvid" else len(CLASSES[track])


def test_no_claim_compares_a_run_whose_parameters_are_not_matched():
    for claim in recipes.CLAIMS:
        if claim.kind == "best":  # the best of a track's runs is whichever wins, not a comparison
            continue
        assert not set(claim.runs) & set(recipes.TRACKS[claim.track].unmatched_runs), claim.id


def test_fast_mode_shrinks_the_recipe(monkeypatch):
    monkeypatch.setenv("SEGEDU_FAST", "0")
    learner = recipes.recipe("thin")
    monkeypatch.setenv("SEGEDU_FAST", "1")
    fast = recipes.recipe("thin")
    assert fast.train_scenes < learner.train_scenes and fast.epochs <= learner.epochs
    assert fast.image_size < learner.image_size
    assert (fast.lr, fast.schedule) == (learner.lr, learner.schedule)


def test_fast_mode_changes_only_sizes_and_epochs_and_the_overrides_cannot_undo_it(monkeypatch):
    monkeypatch.setenv("SEGEDU_FAST", "1")
    fast = recipes.recipe("mixed", train_scenes=4096, epochs=9, lr=1e-3)
    assert (fast.image_size, fast.train_scenes, fast.epochs, fast.batch_size) == (32, 64, 1, 16)
    assert fast.lr == 1e-3 and recipes.recipe("mixed", train_scenes=8).train_scenes == 8
    assert set(recipes.all_recipes()) == set(recipes.TRACKS)


def test_recipe_rejects_an_unknown_track():
    with pytest.raises(ValueError, match="tracks with recipes: shapes"):
        recipes.recipe("forest")


def test_pretrained_and_scratch_runs_differ_only_in_the_weights():
    name, pretrained = recipes.model_spec(f"{recipes.PRETRAIN_MODEL}_pretrained")
    same, scratch = recipes.model_spec(f"{recipes.PRETRAIN_MODEL}_scratch")
    assert name == same and pretrained == {**scratch, "pretrained": "course"}


def test_unknown_run_names_the_known_ones():
    with pytest.raises(ValueError, match="known runs: plain"):
        recipes.model_spec("segformer")


def test_a_recipe_is_a_number_of_steps_with_no_time_in_it(monkeypatch):
    monkeypatch.setenv("SEGEDU_FAST", "0")
    plan = recipes.recipe("shapes")
    assert plan.fit_kwargs() == {"epochs": 3, "batch_size": 16, "lr": plan.lr, "weight_decay": plan.weight_decay,
                                 "schedule": "onecycle", "val_every": 1}
    assert plan.steps_per_epoch == 256 and plan.steps == 768
    assert recipes.recipe("shapes", train_scenes=33, batch_size=16).steps_per_epoch == 3  # the last partial batch
    assert "768 steps" in str(plan)
    assert recipes.recipe("mixed").steps == 2560


def test_every_synthetic_track_has_as_many_pixels_per_epoch_and_the_same_optimiser(monkeypatch):
    monkeypatch.setenv("SEGEDU_FAST", "0")
    plans = {track: recipes.recipe(track) for track in recipes.TRACKS if recipes.recipe(track).data == "synthetic"}
    pixels = {track: plan.train_scenes * plan.image_size**2 for track, plan in plans.items()}
    assert len(set(pixels.values())) == 1, pixels
    assert plans["context"].image_size == 128  # the band out of the backbone's effective reach (see Recipe)
    settings = {(p.lr, p.weight_decay, p.schedule) for p in plans.values()}
    assert len(settings) == 1, settings
    # The context tracks train 6 epochs (their cue is learned late) and the mixed track, the hardest, more
    # epochs of smaller batches (see Recipe).
    assert {track: (p.epochs, p.batch_size) for track, p in plans.items()} == {
        "shapes": (3, 16), "thin": (3, 16), "context": (6, 16), "harbour": (6, 16), "mixed": (5, 8)}


def test_the_camvid_recipe_trains_about_1000_steps_on_crops_and_scores_whole_photos(monkeypatch):
    monkeypatch.setenv("SEGEDU_FAST", "0")
    plan = recipes.recipe("camvid")
    assert plan.image_shape == (180, 240) and plan.crop_size == 128
    assert (plan.train_scenes, plan.val_scenes, plan.test_scenes) == (367, 101, 233)
    assert plan.steps == 22 * 46 == 1012 and plan.val_every == 11
    assert (plan.lr, plan.weight_decay, plan.schedule) == (recipes.recipe("thin").lr, 1e-4, "onecycle")
    # square-root median-frequency weights: the rarest class (bicyclist) weighs most, road least
    weights = dict(zip(CamVid.classes, plan.class_weights, strict=True))
    assert max(weights, key=weights.get) == "bicyclist" and min(weights, key=weights.get) == "road"
    assert weights["pavement"] == 1.0  # the median class


def test_fast_mode_trains_camvid_on_the_shipped_subset(monkeypatch):
    monkeypatch.setenv("SEGEDU_FAST", "1")
    plan = recipes.recipe("camvid")
    assert (plan.train_scenes, plan.val_scenes, plan.test_scenes) == (24, 6, 6)
    assert plan.image_shape == (180, 240) and plan.crop_size == 32 and plan.val_every == 1
    train, val, test = recipes.datasets("camvid")
    assert train[0][0].shape == (3, 32, 32) and test[0][0].shape == (3, 180, 240)
    assert (len(train), len(val), len(test)) == (24, 6, 6)
