"""Checkpoints: round trip, atomic writes, and clear errors for files that are not checkpoints."""

import pickle

import pytest
import torch
from torch import nn

from segedu import checkpoint
from segedu.checkpoint import CheckpointError, load, save


def tiny_net(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.Conv2d(4, 2, 1))


def test_round_trip_restores_weights_buffers_and_meta(tmp_path):
    model = tiny_net(0)
    model[1].running_mean += 1.5
    path = save(model, tmp_path / "sub" / "net.pt", meta={"name": "tiny", "options": {"width": 4}, "miou": 0.5})
    assert path.exists() and path.parent.name == "sub"
    other = tiny_net(1)
    loaded, meta = load(path, other)
    assert loaded is other
    for (name, a), (_, b) in zip(model.state_dict().items(), other.state_dict().items(), strict=True):
        assert torch.equal(a, b), name
    assert meta["name"] == "tiny" and meta["options"] == {"width": 4} and meta["miou"] == 0.5
    assert meta["model_class"] == "Sequential" and "saved_at" in meta and "torch_version" in meta
    state_dict, _ = load(path)
    assert set(state_dict) == set(model.state_dict())
    assert sorted(torch.load(path, weights_only=True)) == ["format", "meta", "state_dict", "version"]


def test_a_failure_mid_write_leaves_the_old_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "net.pt"
    save(tiny_net(0), path, meta={"round": 1})
    before = path.read_bytes()

    def broken_save(obj, file):
        file.write(b"PK\x03\x04 half a file")
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint.torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        save(tiny_net(1), path, meta={"round": 2})
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["net.pt"]  # no temporary file left behind
    monkeypatch.undo()
    assert load(path)[1]["round"] == 1


def foreign_files(tmp_path):
    good = tmp_path / "good.pt"
    save(tiny_net(), good)
    data = good.read_bytes()
    files = {
        "truncated": (data[: len(data) // 2], "truncated or damaged"),
        "text": (b"epoch 1 loss 0.3\nepoch 2 loss 0.2\n", "text file starting with 'epoch 1 loss 0.3'"),
        "empty": (b"", "empty file"),
        "pickle": (pickle.dumps({"weights": {1, 2, 3}}), "plain Python pickle"),
    }
    for name, (content, _) in files.items():
        (tmp_path / name).write_bytes(content)
    torch.save(torch.ones(2, 3), tmp_path / "tensor")
    files["tensor"] = (None, r"single tensor of shape \(2, 3\)")
    torch.save(tiny_net().state_dict(), tmp_path / "state_dict")
    files["state_dict"] = (None, r"bare state_dict with 9 tensors.*model.load_state_dict")
    torch.save(tiny_net(), tmp_path / "whole_model")
    files["whole_model"] = (None, r"whole model saved with torch.save\(model\)")
    torch.save({"epoch": 3, "weights": torch.ones(1), "note": "mine"}, tmp_path / "other_dict")
    files["other_dict"] = (None, "dict with keys 'epoch', 'weights', 'note'")
    return {name: pattern for name, (_, pattern) in files.items()}


def test_foreign_or_broken_files_say_what_they_are(tmp_path):
    for name, pattern in foreign_files(tmp_path).items():
        with pytest.raises(CheckpointError, match=pattern) as info:
            load(tmp_path / name)
        assert "expected a segedu checkpoint" in str(info.value), name
    with pytest.raises(FileNotFoundError, match="no such file"):
        load(tmp_path / "missing.pt")


def test_weights_for_another_architecture_give_a_clear_error(tmp_path):
    path = save(tiny_net(), tmp_path / "net.pt")
    with pytest.raises(CheckpointError, match="saved from Sequential.*do not fit this Linear"):
        load(path, nn.Linear(2, 2))


def test_meta_must_be_loadable_safely(tmp_path):
    with pytest.raises(TypeError, match=r"meta\['when'\] is a object"):
        save(tiny_net(), tmp_path / "net.pt", meta={"when": object()})
    with pytest.raises(TypeError, match="nn.Module or a state_dict"):
        save("not a model", tmp_path / "net.pt")
    assert not (tmp_path / "net.pt").exists()
