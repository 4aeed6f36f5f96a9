"""Recipes: every run builds, fast mode shrinks the budget, and the fairness rule on parameters holds."""

import pytest

from segedu import recipes
from segedu.data import CLASSES
from segedu.models import count_parameters


def test_every_track_has_a_recipe_and_known_runs():
    for track, runs in recipes.TRACK_RUNS.items():
        assert recipes.recipe(track).track == track
        for run in runs:
            recipes.model_spec(run, track)  # raises on an unknown run


@pytest.mark.parametrize("track", list(recipes.TRACK_RUNS))
def test_compared_models_have_parameter_counts_within_a_factor_of_3(track):
    counts = {run: count_parameters(recipes.build_run(run, len(CLASSES[track]), track))
              for run in recipes.TRACK_RUNS[track]}
    assert max(counts.values()) <= 3 * min(counts.values()), counts


def test_fast_mode_shrinks_the_recipe(monkeypatch):
    monkeypatch.setenv("SEGEDU_FAST", "0")
    learner = recipes.recipe("thin")
    monkeypatch.setenv("SEGEDU_FAST", "1")
    fast = recipes.recipe("thin")
    assert fast.train_scenes < learner.train_scenes and fast.epochs <= learner.epochs
    assert fast.image_size < learner.image_size
    assert (fast.lr, fast.schedule) == (learner.lr, learner.schedule)


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


def test_fit_kwargs_match_the_recipe():
    plan = recipes.recipe("shapes")
    kwargs = plan.fit_kwargs()
    assert kwargs["epochs"] == plan.epochs and kwargs["lr"] == plan.lr and kwargs["max_seconds"] == plan.max_seconds


def test_every_track_has_as_many_pixels_per_epoch_and_the_same_optimiser(monkeypatch):
    monkeypatch.setenv("SEGEDU_FAST", "0")
    plans = {track: recipes.recipe(track) for track in recipes.RECIPES}
    pixels = {track: plan.train_scenes * plan.image_size**2 for track, plan in plans.items()}
    assert len(set(pixels.values())) == 1, pixels
    assert plans["context"].image_size == 128  # the band out of the backbone's effective reach (see Recipe)
    settings = {(p.lr, p.weight_decay, p.schedule, p.max_seconds) for p in plans.values()}
    assert len(settings) == 1, settings
    # Only the mixed track, the hardest, trains longer: more epochs of smaller batches (see Recipe).
    assert {track: (p.epochs, p.batch_size) for track, p in plans.items()} == {
        "shapes": (3, 16), "thin": (3, 16), "context": (3, 16), "mixed": (5, 8)}
