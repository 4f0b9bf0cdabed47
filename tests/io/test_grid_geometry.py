"""GridGeometry: the one geometry type of volumes, drafts, corrections and exports."""

import json

import numpy as np
import pytest

from ctrg_desktop.io.geometry import GridGeometry, as_geometry
from ctrg_desktop.io.volume import CANONICAL_DIRECTION, Volume


def _rotated() -> np.ndarray:
    c, s = np.cos(np.radians(7)), np.sin(np.radians(7))
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]]) @ CANONICAL_DIRECTION


def test_volume_stands_on_its_geometry():
    volume = Volume(np.zeros((4, 5, 6), np.int16), (2.0, 0.7, 0.8), (-10, 5, 100), _rotated())
    grid = volume.geometry
    assert grid.shape == (4, 5, 6) and grid.spacing == (2.0, 0.7, 0.8) and grid.origin == (-10.0, 5.0, 100.0)
    np.testing.assert_array_equal(grid.affine, volume.affine)
    points = np.array([[0, 0, 0], [3, 4, 5], [1.5, 2.25, 0.5]])
    np.testing.assert_allclose(grid.world_to_voxel(grid.voxel_to_world(points)), points)
    assert grid.orientation_code() == volume.orientation_code() == "LPS"
    again = Volume.on_grid(volume.array, grid)
    assert again.geometry == grid and again.meta == volume.meta
    with pytest.raises(ValueError, match="differs from the grid"):
        Volume.on_grid(np.zeros((4, 5, 7), np.int16), grid)


def test_json_round_trip_keeps_the_draft_keys():
    grid = GridGeometry((4, 5, 6), (2, 0.7, 0.8), (-10, 5, 100), _rotated())
    data = json.loads(json.dumps(grid.to_json()))
    assert list(data) == ["shape", "spacing", "origin", "direction", "orientation"]
    assert list(grid.to_json(orientation=False)) == ["shape", "spacing", "origin", "direction"]
    assert GridGeometry.from_json({**data, "source": "x"}) == grid
    assert as_geometry(data) == grid and as_geometry(grid) is grid
    assert as_geometry(Volume(np.zeros((4, 5, 6), np.int16), grid.spacing, grid.origin, grid.direction)) == grid
    with pytest.raises(KeyError):
        GridGeometry.from_json({"shape": [1, 2, 3]})


def test_checked_and_immutable():
    with pytest.raises(ValueError, match="spacing must be three finite positive"):
        GridGeometry((1, 2, 3), (1.0, 0.0, 1.0))
    with pytest.raises(ValueError, match="three sizes"):
        GridGeometry((1, 2), (1.0, 1.0, 1.0))
    grid = GridGeometry((1, 2, 3), (1.0, 1.0, 1.0), direction=CANONICAL_DIRECTION + 1e-14)
    assert np.count_nonzero(grid.direction) == 3  # float dust cleared
    with pytest.raises(ValueError):
        grid.direction[0, 0] = 2.0
    with pytest.raises(AttributeError):
        grid.shape = (2, 2, 2)
