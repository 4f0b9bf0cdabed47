"""The ``ctrg`` command line: JSON info for every format, one-line errors with exit code 2."""

import json
import subprocess
import sys
import zipfile

import pytest

from ctrg_desktop import __version__
from ctrg_desktop.cli import main


def ctrg(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "ctrg_desktop.cli", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, timeout=300)


def test_version():
    done = ctrg("--version")
    assert done.returncode == 0 and done.stdout.strip() == f"ctrg-desktop {__version__}"


@pytest.mark.parametrize("suffix", [".nii.gz", ".nii", ".nrrd", ".mha", ".mhd"])
def test_info_itk_formats(tmp_path, phantom_study, suffix, capsys):
    from ctrg_desktop.io.sitk_bridge import write_volume

    path = tmp_path / f"study{suffix}"
    write_volume(phantom_study.volume, path)
    assert main(["info", str(path)]) == 0
    info = json.loads(capsys.readouterr().out)
    vol = info["volume"]
    assert vol["shape"] == list(phantom_study.volume.shape)
    assert vol["spacing_mm"] == list(phantom_study.volume.spacing)
    assert vol["orientation"] == "LPS"
    assert vol["hu_range"] == [float(phantom_study.volume.array.min()), float(phantom_study.volume.array.max())]
    assert len(info["series"]) == 1


def test_info_demo_dicom_and_nifti(demo_study, capsys):
    assert main(["info", str(demo_study.dicom_dir)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["volume"]["shape"] == [20, 512, 512] and info["series"][0]["slice_count"] == 20
    assert main(["info", str(demo_study.nifti)]) == 0
    assert json.loads(capsys.readouterr().out)["volume"]["shape"] == [191, 167, 233]


def test_info_dicom_zip(tmp_path, demo_study, capsys):
    archive = tmp_path / "study.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for f in sorted(demo_study.dicom_dir.iterdir()):
            z.write(f, f"CT/{f.name}")
    assert main(["info", str(archive)]) == 0
    assert json.loads(capsys.readouterr().out)["volume"]["shape"] == [20, 512, 512]


@pytest.mark.parametrize("make, needle", [
    (lambda p: p / "missing.nii.gz", "does not exist"),
    (lambda p: (p / "notes.txt").write_text("hello") and p / "notes.txt", ""),
    (lambda p: (p / "bad.nii.gz").write_bytes(b"\x1f\x8b garbage") and p / "bad.nii.gz", ""),
    (lambda p: (p / "empty").mkdir() or p / "empty", ""),
    (lambda p: (p / "x.dcm").write_bytes(b"\0" * 128 + b"DICM" + b"\x02\x00") and p / "x.dcm", ""),
])
def test_bad_input_one_line_exit_2(tmp_path, make, needle):
    path = make(tmp_path)
    done = ctrg("info", path)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ctrg: error: "), done.stderr
    assert "Traceback" not in done.stderr and needle in lines[0].lower()


def test_phantoms_command(tmp_path):
    done = ctrg("phantoms", "--out", tmp_path / "ds", "--count", "3", "--seed", "1",
                "--shape", "32", "48", "48", "--spacing", "8", "6", "6", "--quiet")
    assert done.returncode == 0, done.stderr
    assert "wrote 3 studies" in done.stdout
    assert (tmp_path / "ds" / "splits.csv").is_file()


def test_demo_data_command(demo_study):
    done = ctrg("demo-data")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["nifti"] == str(demo_study.nifti)
