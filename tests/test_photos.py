"""segedu.course.photos: recipes per source and device, datasets of both sources, ImageNet input normalisation."""

import pytest
import torch
from test_data_pets import write_fake_pets

from segedu.course import photos, recipes
from segedu.models import build


def test_photo_recipes_are_recipes_small_in_fast_mode(monkeypatch):
    monkeypatch.setenv("SEGEDU_FAST", "1")
    for source in photos.SOURCES:
        plan = recipes.photo_recipe(source, torch.device("cpu"))
        assert isinstance(plan, recipes.Recipe) and plan.image_size <= 32 and plan.epochs == 1
    with pytest.raises(ValueError, match="unknown data source"):
        recipes.photo_recipe("flickr", torch.device("cpu"))


def test_learner_recipes_and_backbones_depend_on_the_device(monkeypatch):
    monkeypatch.setenv("SEGEDU_FAST", "0")
    gpu, cpu = (recipes.photo_recipe("pets", torch.device(name)) for name in ("cuda", "cpu"))
    assert gpu.image_size > cpu.image_size and gpu.train_scenes > cpu.train_scenes
    assert photos.backbone_for(torch.device("cuda")) == "resnet18" and photos.backbone_for(torch.device("cpu")) == "small"
    synthetic = recipes.photo_recipe("synthetic", torch.device("cpu"))
    assert synthetic.track == "mixed" and synthetic.steps < recipes.recipe("mixed").steps
    assert recipes.photo_recipe("synthetic", torch.device("cuda")) == recipes.recipe("mixed")
    assert photos.loader_workers("pets") == 1 and photos.loader_workers("synthetic") == 0


def test_pets_datasets_from_a_fake_copy(tmp_path, monkeypatch):
    monkeypatch.setenv("SEGEDU_FAST", "1")
    plan = recipes.photo_recipe("pets", torch.device("cpu"))
    data = photos.load_datasets("pets", plan, write_fake_pets(tmp_path))
    assert data.track == "pets" and data.classes == ("background", "pet") and data.num_classes == 2
    assert len(data.train) + len(data.val) == 3 and len(data.val) == 1 and len(data.test) == 2
    image, mask = data.train[0]
    assert image.shape == (3, plan.image_size, plan.image_size) and mask.dtype == torch.int64
    assert set(mask.unique().tolist()) <= {0, 1, 255}


def test_synthetic_datasets(monkeypatch):
    monkeypatch.setenv("SEGEDU_FAST", "1")
    plan = recipes.photo_recipe("synthetic", torch.device("cpu"))
    data = photos.load_datasets("synthetic", plan)
    assert data.track == "mixed" and len(data.train) == plan.train_scenes and data.classes[0] == "background"
    assert data.train[0][0].shape == (3, plan.image_size, plan.image_size)


def test_split_indices_are_disjoint_and_fixed():
    train, val = photos.split_indices(10, 3)
    assert len(val) == 3 and sorted(train + val) == list(range(10))
    assert photos.split_indices(10, 3) == (train, val)
    with pytest.raises(ValueError):
        photos.split_indices(3, 4)


def test_pretrained_choice_and_imagenet_input():
    option, sentence = photos.pretrained_choice("resnet18")
    assert option == "imagenet" and "ImageNet" in sentence
    assert photos.pretrained_choice("small")[0] in ("course", None)
    model = build("unet", 3)
    assert not photos.uses_imagenet_weights(model)
    wrapped = photos.ImageNetInput(model).eval()
    x = torch.rand(1, 3, 32, 32)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    with torch.no_grad():
        assert torch.allclose(wrapped(x), model.eval()((x - mean) / std))
    assert "mean" not in wrapped.state_dict()


def test_pretrained_choice_falls_back_when_the_course_weights_are_missing_or_broken(tmp_path, monkeypatch):
    monkeypatch.setenv("SEGEDU_DATA", str(tmp_path))
    option, sentence = photos.pretrained_choice("small")
    assert option is None and "not there yet" in sentence
    (tmp_path / "pretrained").mkdir()
    (tmp_path / "pretrained" / "small_backbone.pt").write_bytes(b"not a weights file")
    option, sentence = photos.pretrained_choice("small")
    assert option is None and "could not be loaded" in sentence
    from segedu.models import SmallBackbone, save_course_backbone

    save_course_backbone(SmallBackbone())
    assert photos.pretrained_choice("small")[0] == "course"
