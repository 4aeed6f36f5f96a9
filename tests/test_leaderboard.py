"""segedu.leaderboard: jobs, the one record schema, its files, the claims, the report and the command line."""

import contextlib
import dataclasses
import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest
import torch

from segedu import experiments
from segedu.data import SyntheticScenes
from segedu.experiments.claims import Claim
from segedu.experiments.results import counted, medians
from segedu.experiments.tracks import FEW_SEEDS, SEEDS, TRACKS
from segedu.leaderboard import __main__ as cli
from segedu.leaderboard import benchmark, records, report, reproduce, verdicts
from segedu.train import History, evaluate, fit


def record(run, track, seed, miou, *, boundary=None, labelled=None, completed=True, mode="fast", **extra):
    """A record with the fields the report and the claims read (the rest of the schema left out)."""
    return {"run": run, "track": track, "seed": seed, "labelled": labelled, "miou": miou,
            "boundary": miou / 2 if boundary is None else boundary, "completed": completed,
            "stopped_by": None if completed else "time cap", "steps": 768, "steps_done": 768 if completed else 100,
            "size_iou": {"small": miou, "medium": miou, "large": miou}, "params": 1000, "train_seconds": 10.0,
            "latency_ms": 2.0, "receptive_field": [21, 21], "image_size": 64, "mode": mode, **extra}


@pytest.fixture
def work(tmp_path, monkeypatch):
    """Results and build folders in tmp_path; returns tmp_path."""
    monkeypatch.setenv("SEGEDU_RESULTS", str(tmp_path / "results"))
    monkeypatch.setattr(cli, "work_file", lambda: tmp_path / "build" / "bench" / "records.json")
    monkeypatch.setattr(cli.config, "repo_root", lambda: tmp_path)
    return tmp_path


# ---------------------------------------------------------------------------------------------- jobs


def test_the_plan_covers_every_track_run_and_the_pretraining_comparison_for_each_seed():
    jobs = benchmark.plan_jobs([0, 1])
    per_seed = sum(len(track.runs) + len(track.labelled_runs) * len(track.labelled) for track in TRACKS.values())
    assert len(jobs) == 2 * per_seed and [job.seed for job in jobs[:per_seed]] == [0] * per_seed
    assert benchmark.Job("fcn8s_pretrained", "shapes", 1, 64) in jobs
    assert [job.key for job in jobs[-4:]] == ["fcn8s_pretrained/shapes@16", "fcn8s_scratch/shapes@16",
                                              "fcn8s_pretrained/shapes@64", "fcn8s_scratch/shapes@64"]
    assert {job.key for job in benchmark.plan_jobs([0], only=["unet"])} == {f"unet/{name}" for name, track in
                                                                          TRACKS.items() if "unet" in track.runs}
    assert {job.key for job in benchmark.plan_jobs([0], only=["pspnet*/context"])} == {
        f"{run}/context" for run in TRACKS["context"].runs if run.startswith("pspnet")}
    quick = benchmark.plan_jobs([0], quick=True)
    assert [job.key for job in quick] == ["plain/shapes", "encdec/shapes", "encdec/thin", "fcn8s/thin",
                                          "pspnet_noppm/context", "pspnet/context", "encdec/camvid", "unet/camvid",
                                          "fcn8s_pretrained/shapes@64", "fcn8s_scratch/shapes@64"]


def test_rows_without_a_claim_train_on_the_first_seeds_and_every_claimed_run_on_every_seed():
    seeds = list(range(SEEDS))
    jobs = benchmark.plan_jobs(seeds)
    few = {(name, run) for name, track in TRACKS.items() for run in track.few_seed_runs}
    assert few and all(run in TRACKS[name].runs for name, run in few)
    for name, run in few:
        assert sorted(job.seed for job in jobs if (job.track, job.run) == (name, run)) == list(range(FEW_SEEDS))
    per_seed = {seed: sum(job.seed == seed for job in jobs) for seed in seeds}
    assert per_seed[FEW_SEEDS] == per_seed[0] - len(few)
    # Score every planned job so that each claim can be decided (unet_context the best on mixed, deeplabv3plus
    # on camvid): a claim that compares a few-seed row would then be decided on fewer seeds.
    best = {("unet_context", "mixed"), ("deeplabv3plus", "camvid")}
    classes = {"boat": 0.9, "car": 0.9, "wire": 0.5, "pole": 0.1, "sign": 0.1, "pedestrian": 0.1, "bicyclist": 0.1}
    confusion = [[100 if i == j else 0 for j in range(len(classes))] for i in range(len(classes))]
    board = [record(job.run, job.track, job.seed, 0.95 if (job.run, job.track) in best else 0.5,
                    labelled=job.labelled, class_iou=classes, confusion=confusion) for job in jobs]
    decided = verdicts.check_claims(board)
    assert len(decided) == len(experiments.CLAIMS) == 26
    assert all(verdict.seeds == tuple(seeds) for verdict in decided if verdict.seeds)


def test_few_labelled_scenes_train_the_recipes_steps_and_validate_as_often(monkeypatch):
    seen, real_fit = {}, benchmark.fit

    def spy(model, train, val, **kwargs):
        seen.update(kwargs, length=len(train))
        return real_fit(model, train, val, **{**kwargs, "epochs": 1})

    monkeypatch.setattr(benchmark, "fit", spy)
    made = benchmark.train_and_score("fcn8s_scratch", "shapes", labelled=16, latency=False)
    plan = experiments.recipe("shapes")
    assert seen["length"] == 16 and seen["epochs"] * 1 == plan.steps  # one step per epoch of 16 scenes
    assert seen["val_every"] == seen["epochs"] // plan.epochs
    assert made["labelled"] == 16 and made["pretrained_on"] is None


def test_a_record_has_every_field_of_the_schema_and_says_what_the_backbone_saw():
    made = benchmark.train_and_score("fcn8s_pretrained", "shapes", seed=0, labelled=16, latency=False)
    assert set(made) == set(records.FIELDS)
    assert made["pretrained_on"] == ["square", "cross", "box", "gear"]  # none of the shapes track's classes
    assert not set(made["pretrained_on"]) & set(made["class_iou"])
    assert made["completed"] and made["steps_done"] == made["steps"] and made["mode"] == "fast"
    assert json.loads(json.dumps(made)) == made
    assert made["threads"] == torch.get_num_threads() and made["cpu"]


def test_a_time_capped_run_is_recorded_as_not_completed(monkeypatch):
    from segedu.train import helpers

    ticks = iter(range(0, 10**7, 100))  # every look at the clock: 100 s later
    monkeypatch.setattr(helpers, "clock", lambda: next(ticks))
    made = benchmark.train_and_score("plain", "shapes", max_seconds=150, latency=False)
    assert not made["completed"] and made["stopped_by"] == "time cap" and made["steps_done"] < made["steps"]
    assert counted([made]) == []


def test_an_interrupted_job_raises_instead_of_being_recorded(monkeypatch):
    def interrupted_fit(model, *args, **kwargs):
        return History(planned_steps=4, steps=1, stopped_by="interrupted")

    monkeypatch.setattr(benchmark, "fit", interrupted_fit)
    with pytest.raises(benchmark.Interrupted, match="interrupted after 1 of 4 steps"):
        benchmark.train_and_score("plain", "shapes", latency=False)


# ------------------------------------------------------------------------------------------ records


def test_records_files_round_trip_and_add_replaces_the_same_job(tmp_path):
    path = tmp_path / "records.json"
    records.add_records(path, [record("unet", "thin", 0, 0.5), record("unet", "thin", 1, 0.6)])
    records.add_records(path, [record("unet", "thin", 0, 0.7)])  # the same job, trained again
    kept = records.read_records(path)
    assert sorted((r["seed"], r["miou"]) for r in kept) == [(0, 0.7), (1, 0.6)]
    assert json.loads(path.read_text())["format"] == "segedu-records"


@pytest.mark.parametrize("content, message", [
    ("{broken", r"leaderboard .*leaderboard.json is not valid JSON \(line 1"),
    ('["runs"]', "is not a segedu records file"),
    ('{"format": "segedu-records", "version": 1, "records": []}', "has version 1"),
    ('{"format": "segedu-records", "version": 2, "records": [{"run": "x"}]}', "lacks the field"),
    ('{"format": "segedu-records", "version": 2, "records": ["runs"]}', "record 0 is a str"),
])
def test_bad_leaderboard_files_name_the_file_and_the_problem(tmp_path, content, message):
    path = tmp_path / "leaderboard.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=message):
        records.load(path)


def test_a_missing_leaderboard_says_how_to_make_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="make bench"):
        records.load(tmp_path / "nothing.json")


def test_a_notebook_run_is_recorded_with_the_same_schema(tmp_path):
    plan = experiments.recipe("shapes")
    data = SyntheticScenes("train", "shapes", size=plan.image_size, length=16)
    model = experiments.build_run("plain", data.num_classes, "shapes")
    history = fit(model, data, epochs=1, batch_size=8, lr=1e-3, progress=False)
    path = tmp_path / "runs.json"
    made = records.record_run(run="plain", track="shapes", model=model, history=history,
                              scores=evaluate(model, data), recipe=plan, notebook="01", path=path)
    assert set(made) == set(records.FIELDS) and made["source"] == "notebook 01"
    assert records.load_runs(path) == [made]
    table = report.my_runs(["plain", "unet"], path=path)
    assert [row["run"] for row in table] == ["plain"] and table.missing == ["unet"]
    assert "plain" in repr(table) and "not recorded yet" in repr(table) and "<table>" in table._repr_html_()


def test_recording_an_undertrained_run_says_so_in_the_same_call(tmp_path, capsys):
    plan = experiments.recipe("shapes")
    data = SyntheticScenes("train", "shapes", size=plan.image_size, length=16)
    model = experiments.build_run("plain", data.num_classes, "shapes")
    stopped = History(planned_steps=768, steps=7, stopped_by="interrupted")
    made = records.record_run(run="plain", track="shapes", model=model, history=stopped, scores=evaluate(model, data),
                              recipe=plan, notebook="01", path=tmp_path / "runs.json")
    assert not made["completed"] and made["steps_done"] == 7
    assert "NOTE: plain on shapes stopped after 7 of 768 steps (interrupted): it is undertrained" in capsys.readouterr().out
    history = fit(model, data, epochs=1, batch_size=8, lr=1e-3, progress=False)
    records.record_run(run="plain", track="shapes", model=model, history=history, scores=evaluate(model, data),
                       recipe=plan, notebook="01", path=tmp_path / "runs.json")
    assert "undertrained" not in capsys.readouterr().out


# ------------------------------------------------------------------------------------------- claims


def test_a_claim_needs_its_margin_in_every_seed_not_only_on_the_median():
    board = [record("encdec", "shapes", s, m) for s, m in enumerate([0.8, 0.8, 0.8])]
    board += [record("plain", "shapes", s, m) for s, m in enumerate([0.5, 0.5, 0.75])]
    claim = Claim("shapes.x", "shapes", "better", ("encdec", "plain"), 0.10, "encdec beats plain")
    verdict = verdicts.decide(claim, board)
    assert not verdict.holds and verdict.smallest == pytest.approx(0.05)  # median +0.30, one seed +0.05
    assert verdict.per_seed == pytest.approx((0.3, 0.3, 0.05)) and verdict.seeds == (0, 1, 2)
    assert verdict.seeds_holding == (0, 1) and verdict.margins == dict(zip((0, 1, 2), verdict.per_seed, strict=True))
    assert "smallest +0.050 (needs >= +0.10)" in verdict.detail
    assert repr(verdict).startswith("does NOT hold in every seed: encdec beats plain (smallest +0.050")
    board[-1] = record("plain", "shapes", 2, 0.65)
    assert verdicts.decide(claim, board).holds  # +0.15 in the last seed
    undecided = verdicts.decide(dataclasses.replace(claim, track="thin"), board)
    assert not undecided.decided and not undecided.holds and undecided.smallest is None
    assert "python -m segedu.leaderboard --only 'encdec/thin' --only 'plain/thin'" in repr(undecided)


def test_runs_stopped_early_count_in_no_claim_and_no_median():
    board = [record("encdec", "shapes", 0, 0.8), record("plain", "shapes", 0, 0.5),
             record("encdec", "shapes", 1, 0.1, completed=False), record("plain", "shapes", 1, 0.5)]
    verdict = verdicts.decide(experiments.claims.find("shapes.encdec_vs_plain"), board)
    assert verdict.seeds == (0,) and verdict.holds
    assert medians(board)[("encdec", "shapes", None)]["seeds"] == 1
    markdown = report.render_markdown(board, [verdict])
    assert "Runs that do not count" in markdown and "encdec/shapes seed 1: time cap after 100 of 768" in markdown


def test_class_iou_median_and_best_run_claims():
    board = [record("unet_context", "mixed", s, m, class_iou={"boat": b, "wire": w})
             for s, (m, b, w) in enumerate([(0.9, 0.85, 0.70), (0.89, 0.79, 0.69), (0.95, 0.9, 0.6)])]
    board += [record("unet", "mixed", s, 0.7, class_iou={"boat": 0.3, "wire": 0.7}) for s in range(3)]
    boat = verdicts.decide(experiments.claims.find("mixed.context_boat"), board)
    assert not boat.holds and boat.smallest == pytest.approx(0.79) and boat.seeds_holding == (0, 2)
    wire = verdicts.decide(experiments.claims.find("mixed.context_keeps_wires"), board)
    assert not wire.holds and wire.smallest == pytest.approx(-0.10)
    median = verdicts.decide(experiments.claims.find("mixed.context_median"), board)
    assert median.holds and median.smallest == pytest.approx(0.9) and median.detail.startswith("median 0.900")
    assert median.seeds == () and repr(median).startswith("holds: mixed: unet_context's median mIoU >= 0.88")
    best = verdicts.decide(experiments.claims.find("mixed.best_reaches"), board)
    assert best.holds and best.text == "mixed: the best model (unet_context) reaches 0.70 mIoU"
    assert best.per_seed == pytest.approx((0.9, 0.89, 0.95))


def test_a_larger_gain_on_large_objects_subtracts_the_gains_seed_by_seed():
    sizes = {"encdec": ({"small": 0.6, "large": 0.9}, {"small": 0.5, "large": 0.6}),
             "plain": ({"small": 0.5, "large": 0.4}, {"small": 0.45, "large": 0.58})}
    board = [record(run, "shapes", seed, 0.5, size_iou=buckets[seed]) for run, buckets in sizes.items()
             for seed in (0, 1)]
    verdict = verdicts.decide(experiments.claims.find("shapes.gain_on_large_objects"), board)
    # seed 0: (0.9 - 0.4) - (0.6 - 0.5) = 0.4; seed 1: (0.6 - 0.58) - (0.5 - 0.45) = -0.03
    assert verdict.per_seed == pytest.approx((0.4, -0.03)) and not verdict.holds


def test_check_claims_only_reports_what_the_records_decide():
    board = [record(run, "thin", s, m) for s in range(2) for run, m in
             (("unet", 0.9), ("encdec", 0.4), ("fcn8s", 0.55), ("fcn16s", 0.5), ("fcn32s", 0.3), ("unet_s32", 0.8))]
    found = verdicts.check_claims(board)
    assert [verdict.id for verdict in found] == [claim.id for claim in experiments.CLAIMS if claim.track == "thin"]
    assert len(found) == 6 and all(verdict.holds for verdict in found)


# ------------------------------------------------------------------------------------ report and files


def test_markdown_has_a_table_per_track_with_its_image_size_and_steps():
    board = [record("unet", "thin", 0, 0.9), record("encdec", "thin", 0, 0.4),
             record("pspnet", "context", 0, 0.8, image_size=128, steps=192)]
    text = report.render_markdown(board, verdicts.check_claims(board), note="made here")
    assert "## thin (64 x 64 images, 768 steps)" in text and "## context (128 x 128 images, 192 steps)" in text
    assert text.index("| unet |") < text.index("| encdec |") and "made here" in text


def test_the_three_files_are_written_as_one_unit(tmp_path, monkeypatch):
    board = [record("unet", "thin", 0, 0.9), record("encdec", "thin", 0, 0.4)]
    report.write_leaderboard(board, tmp_path)
    before = {name: (tmp_path / name).read_bytes() for name in ("leaderboard.json", "leaderboard.md", "leaderboard.png")}
    assert records.read_records(tmp_path / "leaderboard.json") == board

    def broken_plot(records):
        raise RuntimeError("the picture failed")

    monkeypatch.setattr(report, "plot_leaderboard", broken_plot)
    with pytest.raises(RuntimeError, match="picture failed"):
        report.write_leaderboard([*board, record("fcn8s", "thin", 0, 0.5)], tmp_path)
    assert {name: (tmp_path / name).read_bytes() for name in before} == before  # all three untouched
    with pytest.raises(ValueError, match="lacks the field"):
        report.write_leaderboard([{"run": "x"}], tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(before)  # and no temporary file left


# ------------------------------------------------------------------------------------ the command line


@pytest.mark.parametrize("argv, message", [
    (["--seeds", "0"], "--seeds: must be at least 1, got 0"),
    (["--seeds", "-1"], "--seeds: must be at least 1, got -1"),
    (["--seed", "-1"], "--seed: must be at least 0, got -1"),
    (["--threads", "0"], "--threads: must be at least 1, got 0"),
    (["--processes", "two"], "--processes: 'two' is not a whole number"),
])
def test_bad_arguments_are_refused_before_anything_is_written(work, capsys, argv, message):
    with pytest.raises(SystemExit) as stop:
        cli.main([*argv, "--out", str(work / "out")])
    assert stop.value.code == 2 and message in capsys.readouterr().err
    assert not (work / "out").exists()


def test_a_filter_that_matches_nothing_lists_the_jobs(work, capsys):
    assert cli.main(["--only", "nothing/here"]) == 2
    assert "no job matches --only nothing/here for seeds [0, 1, 2, 3, 4]; the jobs are:" in capsys.readouterr().err


def test_a_few_seed_row_asked_for_on_a_later_seed_says_which_seeds_it_trains_on(work, capsys):
    assert cli.main(["--only", "unet_ppm/mixed", "--seed", "3"]) == 2
    err = capsys.readouterr().err
    assert "no job matches --only unet_ppm/mixed for seeds [3]" in err
    assert "train on seeds 0 to 2 only" in err and "unet_ppm" in err.split("train on seeds")[1]


def test_processes_of_a_partial_run_share_the_work_file_and_never_touch_results(work):
    assert cli.main(["--only", "plain/shapes", "--seed", "0"]) == 0
    assert cli.main(["--only", "plain/shapes", "--seed", "1"]) == 0
    written = records.read_records(work / "build" / "bench" / "leaderboard.json")
    assert sorted(r["seed"] for r in written) == [0, 1]  # both seeds survive
    assert (work / "build" / "bench" / "leaderboard.md").exists()
    assert not (work / "results").exists()


def test_ctrl_c_stops_the_benchmark_and_changes_no_leaderboard(work, monkeypatch, capsys):
    report.write_leaderboard([record("unet", "thin", 0, 0.9)], work / "results")
    before = (work / "results" / "leaderboard.json").read_bytes()
    calls = []

    def ctrl_c_on_the_second_job(run, track, seed, **kwargs):
        calls.append(run)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return record(run, track, seed, 0.5)

    monkeypatch.setattr(benchmark, "train_and_score", ctrl_c_on_the_second_job)
    assert cli.main(["--seeds", "1"]) == 130
    assert len(calls) == 2  # no job started after the interrupted one
    assert (work / "results" / "leaderboard.json").read_bytes() == before
    assert "Interrupted" in capsys.readouterr().err
    assert len(records.read_records(work / "build" / "bench" / "records.json")) == 1


def test_merge_combines_files_and_refuses_duplicates_and_mixed_modes(work, capsys):
    first, second = work / "a.json", work / "b.json"
    records.write_records(first, [record("unet", "thin", 0, 0.9), record("encdec", "thin", 0, 0.4)])
    records.write_records(second, [record("unet", "thin", 1, 0.8), record("encdec", "thin", 1, 0.45)])
    assert cli.main(["--merge", str(first), str(second), "--out", str(work / "merged")]) == 0
    assert len(records.read_records(work / "merged" / "leaderboard.json")) == 4
    capsys.readouterr()
    assert cli.main(["--merge", str(first), str(first), "--out", str(work / "twice")]) == 2
    assert re.search(r"unet/thin seed 0 is in .*a.json and in .*a.json", capsys.readouterr().err)
    records.write_records(second, [record("unet", "thin", 0, 0.8, mode="learner")])
    # the same job in two modes: a mode mismatch, not a duplicate
    assert cli.main(["--merge", str(first), str(second), "--out", str(work / "mixed")]) == 2
    assert "mix fast and learner-mode records" in capsys.readouterr().err
    broken = work / "broken.json"
    broken.write_text("{oops")
    before = (work / "merged" / "leaderboard.json").read_bytes()
    assert cli.main(["--merge", str(broken), "--out", str(work / "merged")]) == 2
    error = capsys.readouterr().err
    assert "broken.json is not valid JSON" in error and "Traceback" not in error
    assert (work / "merged" / "leaderboard.json").read_bytes() == before


@pytest.fixture
def committed(work):
    """A committed leaderboard of learner-mode records in work/results; returns its three files' bytes."""
    report.write_leaderboard([record(run, "thin", seed, 0.5 + seed / 10, mode="learner")
                              for run in ("unet", "encdec") for seed in range(5)], work / "results")
    return {name: (work / "results" / name).read_bytes()
            for name in ("leaderboard.json", "leaderboard.md", "leaderboard.png")}


def unchanged(work, committed) -> bool:
    return {name: (work / "results" / name).read_bytes() for name in committed} == committed


def test_a_merge_writes_build_bench_unless_it_says_replace_committed(work, committed, capsys):
    fast = work / "fast.json"
    records.write_records(fast, [record("plain", "shapes", 0, 0.3)])
    assert cli.main(["--merge", str(fast)]) == 0  # before the fix: the committed leaderboard was replaced
    assert unchanged(work, committed)
    assert len(records.read_records(work / "build" / "bench" / "leaderboard.json")) == 1
    for argv in (["--out", str(work / "results")], ["--replace-committed"]):
        assert cli.main(["--merge", str(fast), *argv]) == 2
        assert unchanged(work, committed)
    error = capsys.readouterr().err
    assert "say --replace-committed" in error and "learner-mode records only" in error
    learner = work / "learner.json"
    records.write_records(learner, [record("unet", "thin", seed, 0.9, mode="learner") for seed in range(5)])
    assert cli.main(["--merge", str(learner), "--replace-committed"]) == 0
    assert len(records.read_records(work / "results" / "leaderboard.json")) == 5


def test_a_merge_refuses_incomplete_records_for_the_committed_leaderboard(work, committed, capsys):
    stopped = work / "stopped.json"
    records.write_records(stopped, [record("unet", "thin", 0, 0.9, mode="learner", completed=False)])
    assert cli.main(["--merge", str(stopped), "--replace-committed"]) == 2
    assert "complete runs only" in capsys.readouterr().err and unchanged(work, committed)


def test_a_partial_or_fast_run_never_writes_the_committed_leaderboard(work, committed, monkeypatch, capsys):
    trained = []
    monkeypatch.setattr(benchmark, "train_and_score",
                        lambda run, track, seed, **kwargs: trained.append(run) or record(run, track, seed, 0.5))
    assert cli.main(["--only", "plain/shapes", "--seed", "0", "--out", str(work / "results")]) == 2
    assert trained == [] and unchanged(work, committed)  # refused before any training
    assert "may not replace" in capsys.readouterr().err
    monkeypatch.setenv("SEGEDU_FAST", "1")
    assert cli.main([]) == 0  # a full run in fast mode: into build/bench/
    assert trained and unchanged(work, committed)
    assert (work / "build" / "bench" / "leaderboard.json").is_file()


@pytest.mark.parametrize("value", [1.7, float("nan"), -0.1, "0.5", True])
def test_records_with_scores_outside_0_1_are_refused(work, value, capsys):
    path = work / "odd.json"
    path.write_text(json.dumps(records.records_document([record("unet", "thin", 0, 0.5)]))
                    .replace('"miou": 0.5', f'"miou": {json.dumps(value) if value == value else "NaN"}'))
    assert cli.main(["--merge", str(path), "--out", str(work / "merged")]) == 2
    assert "not a score between 0 and 1" in capsys.readouterr().err
    assert not (work / "merged").exists()
    with pytest.raises(ValueError, match=r"class_iou\['boat'\]"):
        records.check_records([record("unet", "thin", 0, 0.5, class_iou={"boat": 2.0})], "test")


@pytest.mark.parametrize("argv, message", [
    (["--check", "--merge", "missing.json"], "--check re-runs the reference's own jobs"),
    (["--check", "--only", "unet"], "it takes no --only"),
    (["--reference", "r.json"], "add --check"),
    (["--replace-committed"], "goes with --merge"),
    (["--merge", "a.json", "--seed", "1"], "--merge trains nothing"),
    (["--threads", "1000"], "more threads than CPUs"),
    (["--check", "--reference", "missing.json"], "--reference: No records file at missing.json"),
])
def test_contradictory_or_impossible_options_are_refused_with_a_message(work, capsys, argv, message):
    assert cli.main(argv) == 2
    error = capsys.readouterr().err
    assert message in error and "Traceback" not in error


def test_out_must_be_a_folder_and_writable(work, capsys):
    source = work / "a.json"
    records.write_records(source, [record("unet", "thin", 0, 0.5)])
    assert cli.main(["--merge", str(source), "--out", str(source)]) == 2
    assert "is a file; --out takes a folder" in capsys.readouterr().err
    assert cli.main(["--merge", str(source), "--out", "/proc/segedu-nope/results"]) == 2
    error = capsys.readouterr().err
    assert "cannot write the leaderboard into /proc/segedu-nope/results" in error and "Traceback" not in error


@pytest.mark.parametrize("value", ["-5", "0", "nan", "soon"])
def test_max_seconds_must_be_a_positive_number(work, capsys, value):
    with pytest.raises(SystemExit) as stop:
        cli.main(["--max-seconds", value])
    assert stop.value.code == 2 and "--max-seconds" in capsys.readouterr().err


@pytest.mark.slow
def test_the_committed_fast_mode_reference_reproduces_digit_for_digit(repo_root, capsys):
    returned = reproduce.main(repo_root / "results" / "reference_fast.json")
    printed = capsys.readouterr().out
    if printed.count("not comparable here") == len(reproduce.JOBS):
        pytest.skip("the reference was recorded with another torch release or instruction set:\n" + printed)
    assert returned == 0, printed
    assert printed.count(": identical") == len(reproduce.JOBS), printed


def test_a_reference_from_another_torch_release_or_cpu_is_not_compared():
    here = records.cpu_description()
    same = {"torch": reproduce.torch.__version__.split("+")[0] + "+cpu", "cpu": here}
    assert reproduce.not_comparable(same, here) == ""
    assert "torch 1.0.0" in reproduce.not_comparable({**same, "torch": "1.0.0"}, here)
    assert "recorded on SSE2" in reproduce.not_comparable({**same, "cpu": "SSE2, Old CPU"}, here)


# -------------------------------------------------------------------------------------------------- speed


def test_every_timing_comes_from_the_speed_module_and_is_positive():
    from segedu.leaderboard import speed

    model = experiments.build_run("fcn8s", 3)
    assert speed.latency_ms(model, 32) > 0 and model.training  # the model's mode is restored
    first, second = speed.data_speed("shapes", 32, 64)
    assert first > 0 and second > 0
    seen = []
    assert speed.response_seconds(seen.append, [1, 2, 3]) >= 0 and seen == [1, 2, 3]
    assert "torch threads" in speed.machine_line()


def test_the_speed_command_refuses_zero_threads(capsys):
    from segedu.leaderboard import speed

    with pytest.raises(SystemExit):
        speed.main(["--threads", "0", "latency", "--models", "plain"])
    assert "--threads must be at least 1" in capsys.readouterr().err


def test_the_stamp_names_the_threads_of_the_training_processes():
    assert records.stamp(1).startswith("1 torch thread(s) per process on ")
    assert records.stamp(3).startswith("3 torch thread(s) per process on ")
    assert records.stamp().startswith(f"{torch.get_num_threads()} torch thread(s) per process")


def _ended(pid: int) -> bool:
    """True when process ``pid`` no longer runs (gone, or a zombie nobody has reaped yet)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


def _started_workers(pids) -> list[int]:
    """The ids of the two sleepy workers, once both have written their file into ``pids``."""
    deadline = time.monotonic() + 120
    while len(list(pids.iterdir())) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    workers = [int(path.name) for path in pids.iterdir()]
    assert len(workers) == 2, "the two workers did not start"
    return workers


def _all_end(workers: list[int], seconds: float) -> bool:
    """Whether every process in ``workers`` has ended within ``seconds``."""
    deadline = time.monotonic() + seconds
    while not all(_ended(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    return all(_ended(pid) for pid in workers)


def _kill_all(parent: subprocess.Popen, pids) -> None:
    parent.kill()
    for path in pids.iterdir():
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(path.name), signal.SIGKILL)


@pytest.mark.slow
@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads process states from /proc (Linux)")
@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM])
def test_workers_end_when_the_benchmark_that_started_them_is_killed(tmp_path, repo_root, how):
    script = (f"import sys; sys.path.insert(0, {str(repo_root / 'tests')!r})\n"
              "from pathlib import Path\n"
              "from segedu.leaderboard import benchmark\n"
              "from sleepy_jobs import sleepy_job\n"
              "jobs = [benchmark.Job('a', 't', 0), benchmark.Job('b', 't', 0)]\n"
              f"benchmark.run_jobs(jobs, Path({str(tmp_path / 'records.json')!r}), 1, processes=2, work=sleepy_job)\n")
    pids = tmp_path / "pids"
    pids.mkdir()
    parent = subprocess.Popen([sys.executable, "-c", script], env={**os.environ, "SLEEPY_PIDS": str(pids)})
    try:
        workers = _started_workers(pids)
        parent.send_signal(how)
        parent.wait(timeout=30)
        assert _all_end(workers, 10 * benchmark.ORPHAN_CHECK_SECONDS + 5), "workers kept running after the benchmark was killed"
    finally:
        _kill_all(parent, pids)


@pytest.mark.slow
@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads process states from /proc (Linux)")
def test_a_stopped_benchmark_with_two_processes_ends_its_workers_and_raises_the_interrupt(tmp_path, repo_root):
    # What the command line does on SIGTERM: the main thread gets a KeyboardInterrupt while it waits for the workers.
    script = (f"import sys, signal; sys.path.insert(0, {str(repo_root / 'tests')!r})\n"
              "from pathlib import Path\n"
              "from segedu.leaderboard import benchmark\n"
              "from sleepy_jobs import sleepy_job\n"
              "def stop(*_): raise KeyboardInterrupt\n"
              "signal.signal(signal.SIGTERM, stop)\n"
              "jobs = [benchmark.Job('a', 't', 0), benchmark.Job('b', 't', 0), benchmark.Job('c', 't', 0)]\n"
              f"benchmark.run_jobs(jobs, Path({str(tmp_path / 'records.json')!r}), 1, processes=2, work=sleepy_job)\n")
    pids = tmp_path / "pids"
    pids.mkdir()
    parent = subprocess.Popen([sys.executable, "-c", script], env={**os.environ, "SLEEPY_PIDS": str(pids)},
                              stderr=subprocess.PIPE, text=True)
    try:
        workers = _started_workers(pids)
        parent.send_signal(signal.SIGTERM)
        _, errors = parent.communicate(timeout=30)
        assert "KeyboardInterrupt" in errors and "AttributeError" not in errors, errors
        assert _all_end(workers, 10), "workers kept running after the benchmark stopped"
    finally:
        _kill_all(parent, pids)
