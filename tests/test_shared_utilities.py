"""The small utilities every area shares: devices, file hashes, JSON values, pids, config fields, atomic writes."""

import hashlib
import math
import os
from dataclasses import dataclass

import numpy as np
import pytest

from ctrg_desktop.atomic import atomic_path
from ctrg_desktop.config_fields import check_fields
from ctrg_desktop.devices import DeviceError, resolve_device
from ctrg_desktop.errors import CtrgError
from ctrg_desktop.hashing import file_sha256
from ctrg_desktop.jsonable import jsonable
from ctrg_desktop.processes import pid_exists


def test_resolve_device_raises_the_callers_error(monkeypatch):
    torch = pytest.importorskip("torch")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto").type == "cpu" and resolve_device(None).type == "cpu"
    assert resolve_device(torch.device("cpu")).type == "cpu"
    with pytest.raises(DeviceError, match="CUDA is not available") as info:
        resolve_device("cuda:1")
    assert isinstance(info.value, CtrgError) and isinstance(info.value, ValueError)

    class AreaError(CtrgError):
        pass

    with pytest.raises(AreaError, match="unknown device 'tpu'"):
        resolve_device("tpu", error=AreaError)


def test_file_sha256(tmp_path):
    path = tmp_path / "blob"
    path.write_bytes(os.urandom(5 << 20))  # more than one block
    assert file_sha256(path) == hashlib.sha256(path.read_bytes()).hexdigest()


def test_jsonable():
    value = {1: (np.float32(0.5), np.int64(3), np.bool_(True)), "x": [math.nan, float("inf"), None, "s", False]}
    out = jsonable(value)
    assert out == {"1": [0.5, 3, True], "x": [None, None, None, "s", False]}
    assert [type(v) for v in out["1"]] == [float, int, bool]
    assert jsonable(type("Thing", (), {"__str__": lambda self: "thing"})()) == "thing"


def test_pid_exists():
    assert pid_exists(os.getpid())
    if os.name == "posix":
        assert not pid_exists(2 ** 22 + 12345)  # above Linux's pid_max


def test_check_fields():
    @dataclass
    class Settings:
        a: int = 1
        b: str = ""

    assert check_fields({"a": 2}, Settings, "settings") == {"a": 2}
    with pytest.raises(ValueError, match=r"settings has unknown field\(s\) \['c'\]$"):
        check_fields({"c": 1}, Settings, "settings")
    with pytest.raises(ValueError, match=r"known: \['a', 'b'\]"):
        check_fields({"c": 1}, Settings, "settings", list_known=True)
    with pytest.raises(ValueError, match="settings must be an object, got list"):
        check_fields([], Settings, "settings")


def test_atomic_path_replaces_or_keeps(tmp_path):
    target = tmp_path / "sub" / "masks.nii.gz"
    with atomic_path(target) as tmp:
        assert tmp.parent == target.parent and tmp.name.endswith(".nii.gz") and tmp.name.startswith(".")
        tmp.write_text("new")
    assert target.read_text() == "new" and os.listdir(target.parent) == ["masks.nii.gz"]
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("writer failed")
    assert target.read_text() == "new" and os.listdir(target.parent) == ["masks.nii.gz"]
