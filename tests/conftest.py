"""Shared fixtures: the real demo study (fetched once with pip, cached) and small synthetic studies."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen" if not os.environ.get("DISPLAY") else "xcb")


@pytest.fixture(autouse=True, scope="session")
def torch_one_thread():
    """Tiny test tensors gain nothing from threads; on a shared 2-core machine they cost 10x."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def demo_study():
    """The real TotalSegmentator chest CT + DICOM series (user data folder, fetched on first use)."""
    from ctrg_desktop.data.demo import ensure_demo_study

    return ensure_demo_study()


@pytest.fixture(scope="session")
def phantom_study():
    """One small synthetic chest CT study (48x64x64 voxels)."""
    from ctrg_desktop.data.phantoms import PhantomConfig, generate_study

    return generate_study(7, PhantomConfig(shape=(48, 64, 64), spacing=(6.0, 5.0, 5.0)))


@pytest.fixture(scope="session")
def phantom_nifti(tmp_path_factory, phantom_study):
    """The small synthetic study written as .nii.gz."""
    from ctrg_desktop.io.sitk_bridge import write_volume

    path = tmp_path_factory.mktemp("phantom") / "phantom.nii.gz"
    write_volume(phantom_study.volume, path)
    return path
