"""Fixtures for the study-reader tests: small volumes whose HU values encode the voxel index."""

from __future__ import annotations

import numpy as np
import pytest

from ctrg_desktop.io.volume import StudyMeta, Volume

SHAPE = (16, 32, 32)

L, R, P, A, S, I = (np.array(v, float) for v in
                    ([1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]))


def axes(k, j, i) -> np.ndarray:
    """A ``direction`` matrix from the LPS unit vectors of array axes k, j, i."""
    return np.column_stack([k, j, i])


def _oblique() -> np.ndarray:
    a, b = np.radians(20), np.radians(10)
    rx = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    rz = np.array([[np.cos(b), -np.sin(b), 0], [np.sin(b), np.cos(b), 0], [0, 0, 1]])
    return rz @ rx @ axes(S, P, L)


#: Stored grids to test (name -> direction); the reader must return them all as LPS.
ORIENTATIONS = {
    "axial-head-first": axes(S, P, L),
    "axial-feet-first": axes(I, P, L),           # slices stored from head to feet
    "axial-iop-flipped": axes(S, A, R),          # ImageOrientationPatient [-1,0,0, 0,-1,0]
    "sagittal-right-first": axes(R, I, P),
    "coronal": axes(P, I, L),
    "oblique": _oblique(),
}


def index_values(shape=SHAPE) -> np.ndarray:
    """int16 HU encoding the voxel index: ``(k * rows + j) * cols + i - 8000``."""
    return (np.arange(int(np.prod(shape))).reshape(shape) - 8000).astype(np.int16)


def make_volume(direction=None, shape=SHAPE, spacing=(2.5, 0.8, 0.6), origin=(12.5, -40.25, 103.0),
                array=None) -> Volume:
    meta = StudyMeta(patient_name="Doe^Jane", patient_id="P123", study_date="20240102",
                     accession_number="A1", institution="Test Hospital")
    return Volume(index_values(shape) if array is None else array, spacing, origin,
                  axes(S, P, L) if direction is None else direction, meta=meta)


def check_same_world(original: Volume, read: Volume, atol: float = 1e-3) -> None:
    """Every voxel of ``original`` lies at a voxel of ``read`` with the same value."""
    kji = np.indices(original.shape).reshape(3, -1).T
    mapped = read.world_to_voxel(original.voxel_to_world(kji))
    index = np.rint(mapped).astype(int)
    np.testing.assert_allclose(mapped, index, atol=atol)
    assert np.all((index >= 0) & (index < np.array(read.shape)))
    np.testing.assert_array_equal(read.array[tuple(index.T)], original.array[tuple(kji.T)])


@pytest.fixture(params=list(ORIENTATIONS))
def direction(request) -> np.ndarray:
    """Each stored orientation of :data:`ORIENTATIONS` in turn."""
    return ORIENTATIONS[request.param]


@pytest.fixture(name="make_volume")
def make_volume_fixture():
    return make_volume


@pytest.fixture(name="check_same_world")
def check_same_world_fixture():
    return check_same_world


@pytest.fixture
def volume() -> Volume:
    return make_volume()
