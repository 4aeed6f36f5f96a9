import dataclasses

import pytest
import torch

from segedu import config


def test_fast_mode_follows_environment(monkeypatch):
    monkeypatch.setenv("SEGEDU_FAST", "1")
    assert config.is_fast() and config.mode() == "fast"
    monkeypatch.setenv("SEGEDU_FAST", "0")
    assert not config.is_fast() and config.mode() == "learner"
    monkeypatch.delenv("SEGEDU_FAST")
    assert not config.is_fast()


def test_fast_mode_rejects_a_typo(monkeypatch):
    monkeypatch.setenv("SEGEDU_FAST", "ture")
    with pytest.raises(ValueError, match="SEGEDU_FAST=1"):
        config.is_fast()


def test_budget_comes_from_the_mode(monkeypatch):
    monkeypatch.setenv("SEGEDU_FAST", "1")
    assert config.budget() == config.FAST_BUDGET
    monkeypatch.setenv("SEGEDU_FAST", "0")
    assert config.budget() == config.LEARNER_BUDGET


def test_fast_mode_is_smaller_in_every_size():
    for field in dataclasses.fields(config.Budget):
        fast, learner = getattr(config.FAST_BUDGET, field.name), getattr(config.LEARNER_BUDGET, field.name)
        if isinstance(fast, int):
            assert fast <= learner, field.name


def test_budget_overrides_are_capped_in_fast_mode(monkeypatch):
    monkeypatch.setenv("SEGEDU_FAST", "1")
    assert config.budget(epochs=20).epochs == config.FAST_BUDGET.epochs
    assert config.budget(train_scenes=8).train_scenes == 8
    monkeypatch.setenv("SEGEDU_FAST", "0")
    assert config.budget(epochs=20).epochs == 20


def test_budget_rejects_unknown_fields():
    with pytest.raises(TypeError, match="allowed: mode, image_size"):
        config.budget(epoch=3)


def test_steps_per_epoch_counts_the_last_partial_batch():
    assert dataclasses.replace(config.FAST_BUDGET, train_scenes=33, batch_size=16).steps_per_epoch == 3


def test_device_defaults_to_best_available(monkeypatch):
    monkeypatch.delenv("SEGEDU_DEVICE", raising=False)
    expected = "cuda" if torch.cuda.is_available() else ("mps" if config._mps_available() else "cpu")
    assert config.get_device().type == expected


def test_device_override(monkeypatch):
    monkeypatch.setenv("SEGEDU_DEVICE", "cpu")
    assert config.get_device() == torch.device("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_device_override_to_missing_hardware_says_what_exists(monkeypatch):
    monkeypatch.setenv("SEGEDU_DEVICE", "cuda")
    with pytest.raises(RuntimeError, match="available: .*cpu"):
        config.get_device()


def test_device_override_with_a_bad_name(monkeypatch):
    monkeypatch.setenv("SEGEDU_DEVICE", "gpu0")
    with pytest.raises(ValueError, match="not a device name"):
        config.get_device()


def test_seed_everything_makes_torch_repeatable():
    config.seed_everything(123)
    first = torch.rand(5)
    generator = config.seed_everything(123)
    assert torch.equal(first, torch.rand(5))
    assert torch.equal(torch.rand(3, generator=generator), torch.rand(3, generator=config.seed_everything(123)))


@pytest.mark.parametrize("seed", [-1, 1.5, "0", True])
def test_seed_everything_rejects_non_seeds(seed):
    with pytest.raises(ValueError, match="non-negative int"):
        config.seed_everything(seed)


def test_environment_report_prints_the_facts(capsys, monkeypatch):
    monkeypatch.setenv("SEGEDU_FAST", "1")
    facts = config.environment_report()
    printed = capsys.readouterr().out
    assert facts["torch"] == torch.__version__
    assert facts["mode"] == "fast"
    assert facts["cpu threads"] == str(torch.get_num_threads())
    for key, value in facts.items():
        assert key in printed and value in printed


def test_paths_can_be_overridden(monkeypatch, tmp_path):
    assert (config.repo_root() / "segedu" / "config.py").exists()
    assert config.data_dir() == config.repo_root() / "data"
    monkeypatch.setenv("SEGEDU_DATA", str(tmp_path))
    monkeypatch.setenv("SEGEDU_RESULTS", str(tmp_path / "r"))
    assert config.data_dir() == tmp_path
    assert config.results_dir() == tmp_path / "r"
