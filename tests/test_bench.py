"""The leaderboard benchmark: the job plan, the medians, the Markdown, and one real (fast) run end to end."""

import json

import pytest

from segedu import bench, recipes


def test_plan_covers_every_track_run_and_the_pretraining_comparison_for_each_seed():
    jobs = bench.plan_jobs(seeds=3)
    per_seed = sum(len(runs) for runs in recipes.TRACK_RUNS.values()) + 2 * len(recipes.PRETRAIN_LABELLED)
    assert len(jobs) == 3 * per_seed
    assert {job.seed for job in jobs} == {0, 1, 2}
    assert [job.seed for job in jobs] == sorted(job.seed for job in jobs)  # seed-major
    pretraining = [job for job in jobs if job.labelled]
    assert {job.run for job in pretraining} == {f"{recipes.PRETRAIN_MODEL}_pretrained", f"{recipes.PRETRAIN_MODEL}_scratch"}


def test_quick_plan_is_one_seed_and_smaller():
    quick = bench.plan_jobs(seeds=1, quick=True)
    assert len(quick) < len(bench.plan_jobs(seeds=1))
    assert {job.seed for job in quick} == {0}
    pairs = {f"{run}/{track}" for track, runs in bench.QUICK_RUNS.items() for run in runs}
    assert {job.key for job in quick} == pairs | {f"{recipes.PRETRAIN_MODEL}_{kind}/{recipes.PRETRAIN_TRACK}@64"
                                                  for kind in ("pretrained", "scratch")}


def test_only_filters_by_run_or_run_and_track():
    assert {job.key for job in bench.plan_jobs(1, only=["unet/thin"])} == {"unet/thin"}
    assert {job.run for job in bench.plan_jobs(1, only=["pspnet*"])} >= {"pspnet", "pspnet_noppm", "pspnet_b1"}


def record(model, seed, miou, track="thin", labelled=None):
    return {"model": model, "track": track, "seed": seed, "miou": miou, "boundary": miou / 2, "labelled": labelled,
            "size_iou": {"small": 0.1, "medium": 0.2, "large": miou}, "params": 1000, "train_seconds": 10.0 + seed,
            "latency_ms": 1.0, "receptive_field": [15, 15]}


def test_medians_are_per_model_track_and_labelled():
    records = [record("unet", s, m) for s, m in enumerate([0.5, 0.9, 0.7])] + [record("unet", 0, 0.2, labelled=16)]
    table = bench.medians(records)
    row = table[("unet", "thin", None)]
    assert row["seeds"] == 3 and row["miou"] == 0.7 and row["boundary"] == 0.35 and row["large"] == 0.7
    assert row["train_seconds"] == 11.0
    assert table[("unet", "thin", 16)]["miou"] == 0.2


def test_markdown_has_a_table_per_track_sorted_by_miou_and_the_claims():
    records = [record("encdec", 0, 0.5), record("unet", 0, 0.8), record("plain", 0, 0.4, track="shapes")]
    text = bench.render_markdown(records, [], note="3 seeds on a test machine")
    assert "## thin" in text and "## shapes" in text and "3 seeds on a test machine" in text
    thin = text.split("## thin")[1]
    assert thin.index("| unet |") < thin.index("| encdec |")


def test_markdown_names_each_tracks_image_size(monkeypatch):
    monkeypatch.setenv("SEGEDU_FAST", "0")  # learner mode: the committed leaderboard's sizes
    records = [record("pspnet", 0, 0.9, track="context"), record("unet", 0, 0.8)]
    text = bench.render_markdown(records, [])
    assert "## context (128 x 128 images)" in text and "## thin (64 x 64 images)" in text


def test_a_partial_run_never_writes_over_the_committed_leaderboard(tmp_path, monkeypatch):
    monkeypatch.setenv("SEGEDU_FAST", "1")
    monkeypatch.setenv("SEGEDU_RESULTS", str(tmp_path / "results"))
    monkeypatch.setattr(bench.config, "repo_root", lambda: tmp_path)
    assert bench.default_out(partial=False) == tmp_path / "results"
    assert bench.main(["--only", "plain/shapes", "--seeds", "1"]) == 0
    assert (tmp_path / "build" / "bench" / "leaderboard.json").exists()
    assert not (tmp_path / "results").exists()


def test_load_leaderboard_says_how_to_make_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="make bench"):
        bench.load_leaderboard(tmp_path / "leaderboard.json")


def test_a_fast_run_end_to_end_writes_the_leaderboard(tmp_path, monkeypatch):
    monkeypatch.setenv("SEGEDU_FAST", "1")
    assert bench.main(["--only", "plain/shapes", "--seeds", "1", "--out", str(tmp_path)]) == 0
    records = bench.load_leaderboard(tmp_path / "leaderboard.json")
    assert len(records) == 1
    (run,) = records
    assert set(bench.RESULT_FIELDS) <= set(run)
    assert run["model"] == "plain" and run["track"] == "shapes" and 0 <= run["miou"] <= 1
    assert run["params"] == 56707 and run["receptive_field"] == [15, 15]
    assert "## shapes" in (tmp_path / "leaderboard.md").read_text()
    assert (tmp_path / "leaderboard.png").stat().st_size > 1000
    json.dumps(records)  # plain JSON all the way down


def test_explicit_seeds_and_merging_runs_of_several_processes(tmp_path, monkeypatch):
    assert {job.seed for job in bench.plan_jobs([2, 5])} == {2, 5}
    for seed in (0, 1):
        bench.write_outputs([record("unet", seed, 0.5 + seed / 10)], tmp_path / str(seed))
    assert bench.main(["--merge", str(tmp_path / "0" / "leaderboard.json"), str(tmp_path / "1" / "leaderboard.json"),
                       "--out", str(tmp_path / "all")]) == 0
    merged = bench.load_leaderboard(tmp_path / "all" / "leaderboard.json")
    assert [r["seed"] for r in merged] == [0, 1]
    assert "| unet | 2 | 0.550 |" in (tmp_path / "all" / "leaderboard.md").read_text()


def test_few_labelled_scenes_keep_the_recipes_steps_and_validation_count(monkeypatch):
    import segedu.train

    seen = {}

    class Stop(Exception):
        pass

    def fake_fit(model, train, val, **kwargs):
        seen.update(kwargs, train_length=len(train))
        raise Stop

    monkeypatch.setenv("SEGEDU_FAST", "0")
    monkeypatch.setattr(segedu.train, "fit", fake_fit)
    plan = recipes.recipe(recipes.PRETRAIN_TRACK)
    with pytest.raises(Stop):
        bench.train_and_score(f"{recipes.PRETRAIN_MODEL}_scratch", recipes.PRETRAIN_TRACK, labelled=64)
    assert seen["train_length"] == 64
    assert seen["epochs"] * 64 == plan.epochs * plan.train_scenes
    assert seen["epochs"] // seen["val_every"] == plan.epochs
