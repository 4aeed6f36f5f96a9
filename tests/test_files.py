"""segedu.files: atomic writes, JSON records shared by processes, and checkpoints with clear errors."""

import errno
import json
import math
import multiprocessing
import os
import pickle
import stat
import subprocess
import sys

import numpy
import pytest
import torch
from torch import nn

from segedu import config
from segedu import files as checkpoint
from segedu.files import (
    CheckpointError,
    WriteError,
    load,
    locked,
    make_folder,
    plain,
    read_json,
    save,
    update_json,
    write_atomically,
    write_json,
)
from segedu.helpers import writing
from segedu.helpers.writing import remove_stale_temporaries


def test_writes_text_and_bytes_into_a_new_folder(tmp_path):
    text = write_atomically(tmp_path / "a" / "b.json", lambda file: file.write("[1, 2]"))
    data = write_atomically(tmp_path / "c.bin", lambda file: file.write(b"\x00\x01"), binary=True)
    assert text.read_text() == "[1, 2]" and data.read_bytes() == b"\x00\x01"


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "runs.json"
    path.write_text("old")

    def half_then_crash(file):
        file.write("new, half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_atomically(path, half_then_crash)
    assert path.read_text() == "old"
    assert os.listdir(tmp_path) == ["runs.json"]


def test_the_file_gets_the_permissions_of_a_plain_open(tmp_path):
    old = os.umask(0o022)
    try:
        path = write_atomically(tmp_path / "leaderboard.json", lambda file: file.write("[]"))
        (tmp_path / "plain.json").write_text("[]")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == stat.S_IMODE((tmp_path / "plain.json").stat().st_mode) == 0o644


def test_the_leftovers_of_a_killed_writer_are_removed_by_the_next_save(tmp_path):
    target = tmp_path / "model.pt"
    killed = subprocess.run(  # a writer killed mid-save (os._exit: no cleanup) leaves its temporary file
        [sys.executable, "-c", "import os, sys; from segedu.files import write_atomically\n"
         "def die(file):\n    file.write(b'x' * 1000); file.flush(); os._exit(9)\n"
         "write_atomically(sys.argv[1], die, binary=True)", str(target)], capture_output=True)
    assert killed.returncode == 9
    leftovers = list(tmp_path.glob(".model.pt.*.tmp"))
    assert len(leftovers) == 1 and not target.exists()
    other = tmp_path / f".model.pt.{os.getpid()}.0123456789ab.tmp"  # a live writer's (this process)
    other.write_bytes(b"in progress")
    save(tiny_net(), target)
    assert target.exists() and not leftovers[0].exists() and other.exists()
    assert remove_stale_temporaries(target) == []


def test_saving_to_a_folder_says_so(tmp_path):
    with pytest.raises(IsADirectoryError, match="is a folder; give a file name inside it"):
        save(tiny_net(), tmp_path)
    with pytest.raises(IsADirectoryError, match="is a folder, not a checkpoint file"):
        load(tmp_path)


def test_plain_turns_values_into_json_types_and_names_what_it_cannot():
    value = {"t": (1, 2), "nan": math.nan, "inf": -math.inf, "np": numpy.float32(0.5), "tensor": torch.tensor([1, 2]),
             "scalar": torch.tensor(3), "flag": numpy.bool_(True), "version": torch.__version__}
    assert plain(value) == {"t": [1, 2], "nan": None, "inf": None, "np": 0.5, "tensor": [1, 2], "scalar": 3,
                            "flag": True, "version": str(torch.__version__)}
    assert type(plain(value)["version"]) is str
    kept = plain({"w": torch.ones(2)}, tensors=True)
    assert isinstance(kept["w"], torch.Tensor)
    with pytest.raises(TypeError, match=r"run\['options'\]\['device'\] is a device"):
        plain({"options": {"device": torch.device("cpu")}}, "run")
    with pytest.raises(TypeError, match="keys must be strings"):
        plain({1: 2})


def test_read_json_names_the_file_and_the_problem(tmp_path):
    broken, binary = tmp_path / "broken.json", tmp_path / "binary.json"
    broken.write_text('{"a": 1,\n "b": }')
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ValueError, match=r"records file .*broken.json is not valid JSON \(line 2, column 7"):
        read_json(broken, "records file")
    with pytest.raises(ValueError, match="binary.json is not UTF-8 text"):
        read_json(binary)


def _append_many(path, writer, count):
    for index in range(count):
        update_json(path, lambda items, index=index: [*items, {"writer": writer, "index": index}], missing=[])


def test_update_json_changes_the_value_and_starts_from_missing(tmp_path):
    path = tmp_path / "counts.json"
    assert update_json(path, lambda value: {"runs": value["runs"] + 1}, missing={"runs": 0}) == {"runs": 1}
    assert update_json(path, lambda value: {"runs": value["runs"] + 1}, missing={"runs": 0}) == {"runs": 2}
    assert json.loads(path.read_text()) == {"runs": 2}

    def refuse(value):
        raise ValueError("not this one")

    with pytest.raises(ValueError, match="not this one"):
        update_json(path, refuse)
    assert json.loads(path.read_text()) == {"runs": 2}  # a change that fails writes nothing


def test_update_json_uses_the_files_own_reader_and_writer(tmp_path):
    path = tmp_path / "records.json"
    read = lambda p: read_json(p)["records"]  # noqa: E731
    write = lambda p, records: write_json(p, {"format": "mine", "records": records})  # noqa: E731
    update_json(path, lambda records: [*records, 1], missing=[], read=read, write=write)
    assert update_json(path, lambda records: [*records, 2], missing=[], read=read, write=write) == [1, 2]
    assert json.loads(path.read_text()) == {"format": "mine", "records": [1, 2]}


def test_processes_appending_at_once_lose_nothing(tmp_path):
    path = tmp_path / "runs.json"
    context = multiprocessing.get_context("spawn")
    writers = [context.Process(target=_append_many, args=(path, writer, 40)) for writer in range(2)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(120)
        assert writer.exitcode == 0
    items = json.loads(path.read_text())
    assert len(items) == 80
    assert sorted((item["writer"], item["index"]) for item in items) == [(w, i) for w in range(2) for i in range(40)]


def test_loading_onto_a_device_this_machine_lacks_says_so(tmp_path):
    path = save(tiny_net(), tmp_path / "net.pt")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="no CUDA device; load with map_location='cpu'"):
            load(path, map_location="cuda")
    with pytest.raises(ValueError, match="is not a device"):
        load(path, map_location="gpu0")


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


# -- folders that cannot be written --------------------------------------------------------------------------


def fail_with(code):
    """A replacement for ``open`` or ``Path.unlink`` that fails as the operating system does with ``code``."""
    def fail(*args, **kwargs):
        raise OSError(code, os.strerror(code), str(args[0]))
    return fail


def test_a_read_only_folder_says_so_and_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "net.pt"
    save(tiny_net(0), path)
    before = path.read_bytes()
    monkeypatch.setattr(writing, "open", fail_with(errno.EROFS), raising=False)  # no temporary file can be made...
    monkeypatch.setattr(writing.Path, "unlink", fail_with(errno.EROFS))  # ...nor any file removed
    with pytest.raises(WriteError, match=r"Could not write .*net.pt: the file system there is read-only.*"
                                         r"Write into a folder you can write to") as info:
        save(tiny_net(1), path)
    assert info.value.errno == errno.EROFS and isinstance(info.value, OSError)
    assert info.value.__cause__ is None and info.value.__suppress_context__  # the cleanup's own error is not raised
    with pytest.raises(WriteError, match="lock file .*read-only"):
        with locked(tmp_path / "runs.json"):
            pass
    monkeypatch.undo()
    assert path.read_bytes() == before


def test_a_full_disk_says_so_and_leaves_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "runs.json"
    write_json(path, [1])
    monkeypatch.setattr(writing.os, "fsync", fail_with(errno.ENOSPC))
    with pytest.raises(WriteError, match="the disk is full.*Free some space"):
        write_json(path, [1, 2])
    assert json.loads(path.read_text()) == [1] and os.listdir(tmp_path) == ["runs.json"]


def test_errors_inside_the_results_folder_name_the_environment_variable(tmp_path, monkeypatch):
    monkeypatch.setenv(config.RESULTS_ENV, str(tmp_path / "results"))
    monkeypatch.setattr(writing.os, "fsync", fail_with(errno.EACCES))
    with pytest.raises(WriteError, match=r"no permission to write there.*set the environment variable "
                                         r"SEGEDU_RESULTS to another folder"):
        write_json(config.results_dir() / "runs_fast.json", [])
    with pytest.raises(WriteError) as elsewhere:
        write_json(tmp_path / "other.json", [])
    assert "SEGEDU_RESULTS" not in str(elsewhere.value)


def test_a_path_that_cannot_hold_a_folder_says_so(tmp_path):
    (tmp_path / "a.json").write_text("[]")
    with pytest.raises(WriteError, match=r"Could not create the folder .*a.json: a part of that path is a file, "
                                         r"not a folder"):
        make_folder(tmp_path / "a.json")
    with pytest.raises(WriteError, match="a part of that path is a file"):
        write_json(tmp_path / "a.json" / "leaderboard.json", [])
    assert (tmp_path / "a.json").read_text() == "[]"


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux's /proc")
def test_a_folder_inside_proc_cannot_be_created_and_says_so():
    with pytest.raises(WriteError, match=r"Could not create the folder /proc/nope/results: a folder on that path "
                                         r"does not exist and cannot be created there"):
        write_json("/proc/nope/results/runs_fast.json", [])
