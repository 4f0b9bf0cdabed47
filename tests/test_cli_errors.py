"""``ctrg`` reports every failure as one ``ctrg: error:`` line with exit code 2 (``--verbose``: the
traceback too), and keeps the libraries' warnings off the terminal unless ``--verbose``."""

from __future__ import annotations

import errno
import logging
import subprocess
import sys
import warnings

import pytest

from ctrg_desktop import cli
from ctrg_desktop.cli import main


def _patch_models_command(monkeypatch, fn):
    monkeypatch.setattr(cli, "_cmd_models", fn)


def test_an_unexpected_error_is_one_line_with_its_type(monkeypatch, capsys):
    def boom(args):
        raise RuntimeError("the tensor went\nsideways")

    _patch_models_command(monkeypatch, boom)
    assert main(["models"]) == 2
    err = capsys.readouterr().err
    assert err.splitlines() == ["ctrg: error: RuntimeError: the tensor went sideways "
                                "(run with --verbose for the traceback)"]
    assert main(["--verbose", "models"]) == 2
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and 'raise RuntimeError("the tensor went' in err
    assert err.splitlines()[-1].startswith("ctrg: error: RuntimeError: the tensor went sideways")


@pytest.mark.parametrize("exc", [RecursionError("maximum recursion depth exceeded"), KeyError("x"),
                                 TypeError("unsupported operand"), AttributeError("no attribute")])
def test_other_exception_types_are_one_line(monkeypatch, capsys, exc):
    def fail(args):
        raise exc

    _patch_models_command(monkeypatch, fail)
    assert main(["models"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ctrg: error: ")


def test_no_space_left_names_the_file(monkeypatch, capsys):
    def full(args):
        raise OSError(errno.ENOSPC, "No space left on device", "/runs/x/checkpoints/step-1/model.safetensors")

    _patch_models_command(monkeypatch, full)
    assert main(["models"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "ctrg: error: no space left on device while writing /runs/x/checkpoints/step-1/model.safetensors"]


def test_library_warnings_are_hidden_unless_verbose(monkeypatch, capsys):
    seen = {}

    def noisy(args):
        import SimpleITK as sitk

        warnings.warn("`past_key_values` is deprecated", FutureWarning)
        warnings.warn("Invalid value for VR UI", UserWarning)
        logging.getLogger("pydicom").warning("invalid VR")
        seen["itk"] = sitk.ProcessObject_GetGlobalWarningDisplay()
        seen["log"] = logging.getLogger("pydicom").isEnabledFor(logging.WARNING)
        return 0

    import SimpleITK as sitk

    _patch_models_command(monkeypatch, noisy)
    sitk.ProcessObject_SetGlobalWarningDisplay(True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert main(["models"]) == 0
    assert caught == [] and seen == {"itk": False, "log": False}
    assert "past_key_values" not in capsys.readouterr().err
    assert sitk.ProcessObject_GetGlobalWarningDisplay()  # restored after the command
    assert logging.getLogger("pydicom").isEnabledFor(logging.WARNING)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert main(["--verbose", "models"]) == 0
    assert {type(w.message) for w in caught} == {FutureWarning, UserWarning} and seen == {"itk": True, "log": True}


def test_warnings_do_not_reach_the_terminal(tmp_path):
    """In a real process: a FutureWarning and an ITK warning print nothing without --verbose."""
    script = tmp_path / "run.py"
    script.write_text(
        "import sys, warnings\n"
        "from ctrg_desktop import cli\n"
        "def noisy(args):\n"
        "    import SimpleITK as sitk\n"
        "    warnings.warn('`past_key_values` as a tuple is deprecated', FutureWarning)\n"
        "    f = sitk.ImageFileReader(); f.SetFileName('/nonexistent.nii.gz')\n"
        "    print('ITK', sitk.ProcessObject_GetGlobalWarningDisplay())\n"
        "    return 0\n"
        "cli._cmd_models = noisy\n"
        "sys.exit(cli.main(sys.argv[1:]))\n")
    quiet = subprocess.run([sys.executable, str(script), "models"], capture_output=True, text=True, timeout=120)
    assert quiet.returncode == 0 and quiet.stderr == "" and "ITK False" in quiet.stdout
    loud = subprocess.run([sys.executable, str(script), "--verbose", "models"], capture_output=True, text=True,
                          timeout=120)
    assert loud.returncode == 0 and "past_key_values" in loud.stderr and "ITK True" in loud.stdout
