"""Pretrained backbones: ImageNet weights and their offline fallback, the course's own weights."""

import pickle
import socket
import time
import urllib.error
import warnings

import pytest
import torch
import torchvision
from silent_server import silent_server
from torchvision.models import ResNet18_Weights

from segedu.models import (
    PretrainedWeightsWarning,
    ResNet18Backbone,
    SmallBackbone,
    build,
    build_backbone,
    course_weights_path,
    save_course_backbone,
    small_backbone_for_classification,
)


@pytest.fixture
def offline(monkeypatch):
    """Downloads fail as they do without a network."""
    def refuse(self, *args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(ResNet18_Weights, "get_state_dict", refuse)


@pytest.fixture
def course_file(tmp_path, monkeypatch):
    """A course backbone file where the course looks for it (``$SEGEDU_DATA/pretrained``)."""
    monkeypatch.setenv("SEGEDU_DATA", str(tmp_path))
    torch.manual_seed(1)
    classifier = small_backbone_for_classification(10)
    path = save_course_backbone(classifier.backbone, task="test", epochs=0)
    assert path == tmp_path / "pretrained" / "small_backbone.pt" == course_weights_path()
    return path, classifier.backbone.state_dict()


@pytest.fixture
def no_course_file(tmp_path, monkeypatch):
    monkeypatch.setenv("SEGEDU_DATA", str(tmp_path))
    return tmp_path / "pretrained" / "small_backbone.pt"


class RunsCodeWhenUnpickled:
    def __reduce__(self):
        return (print, ("this must never run",))


def same_weights(module, state_dict) -> bool:
    return all(torch.equal(module.state_dict()[key], value) for key, value in state_dict.items())


def test_classifier_for_pretraining():
    classifier = small_backbone_for_classification(7)
    assert classifier(torch.randn(2, 3, 40, 40)).shape == (2, 7)
    assert isinstance(classifier.backbone, SmallBackbone)


def test_course_weights_load_into_fcn_and_dilated_pspnet(course_file):
    path, saved = course_file
    record = torch.load(path, weights_only=True)
    assert record["format"] == "segedu-checkpoint"  # the one way weights are saved (segedu.files.save)
    assert record["meta"]["metadata"] == {"task": "test", "epochs": 0}
    for model in (build("fcn8s", 3, pretrained="course"), build("pspnet", 3, pretrained=True)):
        assert model.backbone.weights_source == "course" and model.backbone.pretrained_on == []
        assert same_weights(model.backbone, saved)
    assert build("fcn8s", 3).backbone.weights_source == "random"
    assert build("fcn8s", 3).backbone.pretrained_on is None


def test_missing_course_weights_name_the_file_and_the_script(no_course_file):
    with pytest.raises(FileNotFoundError) as error:
        build("pspnet", 3, pretrained="course")
    assert str(no_course_file) in str(error.value)
    assert "python -m segedu.course.pretrain" in str(error.value)


def test_course_weights_of_another_architecture_are_refused(tmp_path):
    path = save_course_backbone(SmallBackbone(channels=(8, 8, 8, 8, 8)), tmp_path / "other.pt")
    with pytest.raises(ValueError, match="different architecture.*channels"):
        build_backbone("small", pretrained="course", course_weights=path)


def test_files_that_are_not_course_weights_are_refused(tmp_path, capsys):
    plain_state_dict = tmp_path / "state_dict.pt"
    torch.save(SmallBackbone().state_dict(), plain_state_dict)
    with pytest.raises(ValueError, match="bare state_dict.*Re-create it with"):
        build_backbone("small", pretrained="course", course_weights=plain_state_dict)
    other_checkpoint = tmp_path / "model.pt"
    from segedu.files import save

    save(SmallBackbone(), other_checkpoint)
    with pytest.raises(ValueError, match="not of a course backbone"):
        build_backbone("small", pretrained="course", course_weights=other_checkpoint)
    # weights_only=True: a pickle that would run code is never unpickled.
    malicious = tmp_path / "malicious.pt"
    malicious.write_bytes(pickle.dumps(RunsCodeWhenUnpickled(), protocol=2))
    with pytest.raises(ValueError, match="plain Python pickle"):
        build_backbone("small", pretrained="course", course_weights=malicious)
    assert "must never run" not in capsys.readouterr().out


def test_imagenet_weights_load_when_available(monkeypatch):
    torch.manual_seed(2)
    reference = torchvision.models.resnet18(weights=None).state_dict()
    calls = []

    def fake_download(self, *args, **kwargs):
        calls.append(kwargs)
        return reference

    monkeypatch.setattr(ResNet18_Weights, "get_state_dict", fake_download)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        backbone = build_backbone("resnet18", pretrained=True, output_stride=8)
    assert calls[0]["weights_only"] is True
    assert backbone.weights_source == "imagenet"
    assert same_weights(backbone.net, {k: v for k, v in reference.items() if not k.startswith("fc.")})


def test_offline_imagenet_falls_back_to_the_course_backbone(offline, course_file):
    _, saved = course_file
    with pytest.warns(PretrainedWeightsWarning, match="Could not get torchvision's ImageNet weights.*URLError.*"
                                                      "course's small backbone"):
        model = build("fcn8s", 3, backbone="resnet18", pretrained="imagenet")
    assert isinstance(model.backbone, SmallBackbone) and model.backbone.weights_source == "course"
    assert same_weights(model.backbone, saved)
    assert model(torch.randn(1, 3, 32, 32)).shape == (1, 3, 32, 32)


def test_offline_without_course_weights_warns_twice_and_starts_from_scratch(offline, no_course_file):
    with pytest.warns(PretrainedWeightsWarning) as record:
        backbone = build_backbone("resnet18", pretrained="imagenet")
    messages = [str(w.message) for w in record]
    assert any("URLError" in m for m in messages)
    assert any(str(no_course_file) in m and "python -m segedu.course.pretrain" in m for m in messages)
    assert isinstance(backbone, SmallBackbone) and backbone.weights_source == "random"


def test_offline_imagenet_with_random_or_error_fallback(offline):
    with pytest.warns(PretrainedWeightsWarning, match="randomly initialised ResNet-18"):
        backbone = build_backbone("resnet18", pretrained="imagenet", fallback="random")
    assert isinstance(backbone, ResNet18Backbone) and backbone.weights_source == "random"
    with pytest.raises(RuntimeError, match="Could not get torchvision's ImageNet weights.*copy it into"):
        build_backbone("resnet18", pretrained="imagenet", fallback="error")


def test_pretrained_option_errors():
    with pytest.raises(ValueError, match="pretrained='imagenet' exists only for backbone='resnet18'"):
        build_backbone("small", pretrained="imagenet")
    with pytest.raises(ValueError, match="pretrained='course' exists only for backbone='small'"):
        build_backbone("resnet18", pretrained="course")
    with pytest.raises(ValueError, match="pretrained must be one of"):
        build_backbone("small", pretrained="coco")
    with pytest.raises(ValueError, match="unknown backbone 'vgg16'"):
        build("fcn8s", 3, backbone="vgg16")
    with pytest.raises(ValueError, match="ImageNet weights need in_channels=3"):
        build_backbone("resnet18", in_channels=1, pretrained="imagenet")


def test_metadata_must_be_plain_so_the_file_loads_with_weights_only(tmp_path):
    with pytest.raises(TypeError, match=r"meta\['metadata'\]\['when'\] is a object"):
        save_course_backbone(SmallBackbone(), tmp_path / "w.pt", when=object())
    assert not (tmp_path / "w.pt").exists()
    save_course_backbone(SmallBackbone(), tmp_path / "w.pt", torch=torch.__version__)  # a str subclass: made plain
    assert type(torch.load(tmp_path / "w.pt", weights_only=True)["meta"]["metadata"]["torch"]) is str


def test_the_shipped_course_weights_load_with_weights_only():
    from segedu.models.pretrained import course_weights_path

    record = torch.load(course_weights_path(), weights_only=True)
    assert record["meta"]["metadata"]["task"] == "synthetic classification"
    backbone = SmallBackbone(channels=tuple(record["meta"]["channels"]))
    backbone.load_state_dict(record["state_dict"])
    from segedu.course.pretrain import PRETRAIN_SHAPES
    from segedu.course.recipes import PRETRAIN_TRACK
    from segedu.data import CLASSES

    # Transfer, not memory: the backbone never saw the classes of the track it is compared on.
    assert record["meta"]["metadata"]["pretrained_on"] == list(PRETRAIN_SHAPES)
    assert not set(PRETRAIN_SHAPES) & set(CLASSES[PRETRAIN_TRACK])


def test_a_weights_server_that_never_answers_times_out_and_says_what_to_do(tmp_path, monkeypatch):
    from segedu.models import pretrained

    monkeypatch.setattr(pretrained, "DOWNLOAD_TIMEOUT_SECONDS", 0.5)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # an empty cache: the weights must be downloaded
    weights = ResNet18_Weights.IMAGENET1K_V1
    with silent_server() as url:
        monkeypatch.setattr(weights.value, "url", f"{url}/{weights.url.rsplit('/', 1)[-1]}")
        start = time.monotonic()
        with pytest.raises(RuntimeError) as error:
            build_backbone("resnet18", pretrained="imagenet", fallback="error")
        elapsed = time.monotonic() - start
    assert elapsed < 10, f"the download waited {elapsed:.1f} s"
    message = str(error.value)
    assert "Could not get torchvision's ImageNet weights" in message and "did not answer within 0.5 s" in message
    assert f"copy it into {tmp_path / 'hub' / 'checkpoints'}" in message  # what to do offline
    assert socket.getdefaulttimeout() is None  # the process-wide timeout is restored
    assert not list(tmp_path.rglob("*.partial"))  # nothing half-downloaded is left behind
