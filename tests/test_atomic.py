"""Atomic writes: all or nothing, and the permissions of a plain open()."""

import os
import stat

import pytest

from segedu.atomic import write_atomically


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
        assert os.umask(0o022) == 0o022  # the umask is unchanged
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == stat.S_IMODE((tmp_path / "plain.json").stat().st_mode) == 0o644
