
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
