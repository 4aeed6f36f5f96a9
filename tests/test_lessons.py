"""segedu.lessons: reusing a trained model across notebooks, distances to the nearest edge."""

import dataclasses

import torch

from segedu import experiments, files
from segedu.course import lessons
from segedu.models import PlainCNN
from segedu.train import History


def test_distance_to_edge_of_a_square():
    mask = torch.zeros(7, 7, dtype=torch.long)
    mask[1:6, 1:6] = 1
    distance = lessons.distance_to_edge(mask)
    assert distance[3, 3] == 3 and distance[2, 2] == 2 and distance[1, 1] == 1 and distance[0, 0] == 1
    assert distance[0, 3] == 1  # background beside the square
    mask[0, 0] = 255
    assert lessons.distance_to_edge(mask)[0, 0] == 0
    assert (lessons.distance_to_edge(torch.zeros(4, 5, dtype=torch.long)) == 5).all()  # no edge at all


def test_deepest_object_pixel():
    masks = torch.zeros(2, 9, 9, dtype=torch.long)
    masks[0, 1:4, 1:4] = 1
    masks[1, 2:7, 2:7] = 2
    assert lessons.deepest_object_pixel(masks) == (1, 4, 4, 3)


def test_save_and_load_trained(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SEGEDU_RESULTS", str(tmp_path))
    plan = experiments.recipe("shapes")
    model = PlainCNN(3, depth=2, width=4)
    path = lessons.save_trained(model, "demo", plan, History(planned_steps=4, steps=4), notebook="01")
    assert path == lessons.checkpoint_path("demo") and path.is_file() and path.name == "demo_fast.pt"
    other = PlainCNN(3, depth=2, width=4)
    meta = lessons.load_trained(other, "demo", plan)
    assert meta is not None and meta["notebook"] == "01"
    assert meta["training"] == {"steps_done": 4, "steps": 4, "completed": True, "stopped_by": None}
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), other.state_dict().values(), strict=True))
    assert lessons.load_trained(other, "demo", experiments.recipe("shapes", lr=1.0)) is None
    assert "another recipe" in capsys.readouterr().out
    assert lessons.load_trained(PlainCNN(3, depth=3, width=4), "demo", plan) is None
    assert "do not fit" in capsys.readouterr().out
    assert lessons.load_trained(other, "missing", plan) is None


def test_a_model_whose_training_was_interrupted_is_not_reused_silently(tmp_path, monkeypatch, capsys):
    # Notebook 01 interrupted at 7 of its 768 steps, then notebook 02 asks for its model.
    monkeypatch.setenv("SEGEDU_RESULTS", str(tmp_path))
    monkeypatch.setenv("SEGEDU_FAST", "0")
    plan = experiments.recipe("shapes")
    interrupted = History(planned_steps=plan.steps, steps=7, stopped_by="interrupted")
    model = PlainCNN(3, depth=2, width=4)
    path = lessons.save_trained(model, "01_plain_shapes", plan, interrupted, run="plain", track="shapes")
    assert files.load(path)[1]["training"] == {"steps_done": 7, "steps": 768, "completed": False,
                                               "stopped_by": "interrupted"}
    other = PlainCNN(3, depth=2, width=4)
    before = [tensor.clone() for tensor in other.state_dict().values()]
    assert lessons.load_trained(other, "01_plain_shapes", plan) is None  # the notebook trains a full model
    said = capsys.readouterr().out
    assert "is undertrained: its training stopped after 7 of 768 steps (interrupted)" in said
    assert "training a full model here instead" in said
    assert all(torch.equal(a, b) for a, b in zip(before, other.state_dict().values(), strict=True))


def test_a_checkpoint_that_does_not_say_how_its_training_ended_is_not_reused(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SEGEDU_RESULTS", str(tmp_path))
    plan = experiments.recipe("shapes")
    model = PlainCNN(3, depth=2, width=4)
    files.save(model, lessons.checkpoint_path("old"), meta={"recipe": dataclasses.asdict(plan)})  # saved before
    assert lessons.load_trained(model, "old", plan) is None
    assert "does not say whether its training ran to the end" in capsys.readouterr().out


def test_distance_to_edge_of_a_batch_equals_the_brute_force_distance():
    generator = torch.Generator().manual_seed(0)
    masks = torch.randint(0, 2, (3, 4, 4), generator=generator).repeat_interleave(3, 1).repeat_interleave(3, 2)
    distance = lessons.distance_to_edge(masks)
    for n, mask in enumerate(masks):
        rows, cols = torch.meshgrid(torch.arange(12), torch.arange(12), indexing="ij")
        for r in range(12):
            for c in range(12):
                other = mask != mask[r, c]
                expected = int(torch.maximum((rows - r).abs(), (cols - c).abs())[other].min()) if other.any() else 12
                assert distance[n, r, c] == expected
        assert torch.equal(lessons.distance_to_edge(mask), distance[n])


def test_deepest_object_pixel_away_from_the_frame():
    masks = torch.zeros(1, 12, 12, dtype=torch.long)
    masks[0, :6, :6] = 1  # deepest at the corner (the frame is not an edge)
    masks[0, 7:11, 7:11] = 2
    assert lessons.deepest_object_pixel(masks) == (0, 0, 0, 6)
    assert lessons.deepest_object_pixel(masks, margin=2) == (0, 2, 2, 4)
