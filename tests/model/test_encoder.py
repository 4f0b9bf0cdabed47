import numpy as np
import torch

from ctrg_desktop.model import EncoderConfig, ModelConfig, VolumeEncoder


def test_output_shape_and_batch_forms():
    config = ModelConfig.tiny().encoder
    encoder = VolumeEncoder(config).eval()
    volume = torch.randn(2, 1, *config.input_shape)
    out = encoder(volume)
    assert out.shape == (2, config.grid.num_patches, config.dim)
    assert torch.allclose(encoder(volume[:, 0]), out, atol=1e-6)


def test_patch_order_matches_patch_grid():
    config = ModelConfig.tiny().encoder
    grid = config.grid
    encoder = VolumeEncoder(config)
    for index in (0, 5, 37, grid.num_patches - 1):
        volume = torch.zeros(1, 1, *config.input_shape)
        (k0, j0, i0), (k1, j1, i1) = grid.voxel_box(index)
        volume[0, 0, k0:k1 + 1, j0:j1 + 1, i0:i1 + 1] = 1.0
        tubelets = encoder.patchify(volume).reshape(grid.num_patches, -1)
        assert np.flatnonzero(tubelets.abs().sum(-1).numpy()).tolist() == [index]


def test_tokens_interact_across_slabs_and_within_slabs():
    config = EncoderConfig((8, 16, 16), (4, 8, 8), (4, 8, 8), dim=16, spatial_depth=1, temporal_depth=1,
                           heads=2, head_dim=8)
    encoder = VolumeEncoder(config).eval()
    volume = torch.randn(1, 1, 8, 16, 16, requires_grad=True)
    (encoder(volume)[0, 0] * torch.randn(16)).sum().backward()  # a plain sum is constant after LayerNorm
    grad = volume.grad[0, 0].abs()
    assert grad[4:, :, :].sum() > 0 and grad[:4, 8:, 8:].sum() > 0


def test_without_position_bias():
    config = ModelConfig.tiny().encoder
    config.position_bias = False
    assert VolumeEncoder(config)(torch.randn(1, *config.input_shape)).shape == (1, 64, config.dim)


def test_wrong_input_shape_is_a_value_error():
    import pytest

    encoder = VolumeEncoder(ModelConfig.tiny().encoder)
    with pytest.raises(ValueError, match="does not match"):
        encoder(torch.randn(1, 1, 16, 32, 40))


def test_patch_intensity_counts_voxels_per_hu_bin():
    import math

    import numpy as np

    from ctrg_desktop.imaging.window import PAPER_WINDOW
    from ctrg_desktop.model.encoder import PatchIntensity

    hu = np.array([[-1000, -960, -500, 0, 0, 150, 400, -2000]], dtype=np.float32)  # out-of-window clipped
    tubelets = torch.tensor(PAPER_WINDOW.normalise(hu))
    features = PatchIntensity(PAPER_WINDOW, 8).features(tubelets)
    counts = torch.expm1(features[0, :12] * math.log1p(8)).round()
    # bins: <-950 | -950..-900 | ... | -650..-450 | ... | -30..30 | 30..100 | 100..180 | >=180
    assert counts.tolist() == [3, 0, 0, 0, 1, 0, 0, 0, 2, 0, 1, 1]
    assert features.shape == (1, 12 + 4)


def test_intensity_features_tell_apart_patches_that_layernorm_makes_equal():
    import dataclasses

    from ctrg_desktop.model import ModelConfig
    from ctrg_desktop.model.encoder import VolumeEncoder

    config = dataclasses.replace(ModelConfig.tiny().encoder, intensity_features=True)
    torch.manual_seed(0)
    noise = torch.randn(1, 1, 16, 32, 32) * 0.02
    dense, lucent = noise + 0.5, noise - 0.5  # same pattern, another density
    plain = VolumeEncoder(dataclasses.replace(config, intensity_features=False)).eval()
    with torch.no_grad():
        assert torch.allclose(plain.patch_embed(plain.patchify(dense)), plain.patch_embed(plain.patchify(lucent)),
                              atol=1e-4)
        encoder = VolumeEncoder(config).eval()
        assert not torch.allclose(encoder(dense), encoder(lucent), atol=1e-3)
