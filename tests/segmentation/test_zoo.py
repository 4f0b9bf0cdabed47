"""Segmenters on disk: the bundled LiteMedSAM, importing SAM/MedSAM checkpoints, refusing bad files."""

import json
import pickle
import shutil

import numpy as np
import pytest
import torch

from ctrg_desktop.errors import CtrgError
from ctrg_desktop.segmentation import (
           Embedding,
           SegmentationError,
           import_checkpoint,
           list_segmenters,
           load_segmenter,
           segmenters_dir,
)
from ctrg_desktop.segmentation.architectures import ARCHITECTURES, litemedsam_asset
from ctrg_desktop.segmentation.transforms import InputGeometry


def test_bundled_litemedsam_is_listed_and_loadable_by_name():
    entries = list_segmenters(root="/nonexistent")
    first = entries[0]
    assert (first.name, first.kind, first.source, first.problem) == ("litemedsam", "litemedsam", "bundled", "")
    assert first.parameters == 9_791_300 and 30 < first.weights_mb < 45
    assert litemedsam_asset().is_file()


def test_import_litemedsam_checkpoint_round_trips(tmp_path, lite_segmenter):
    folder = import_checkpoint(litemedsam_asset(), "litemedsam", "lite-copy", root=tmp_path)
    assert folder == segmenters_dir(tmp_path) / "lite-copy"
    assert sorted(p.name for p in folder.iterdir()) == ["card.md", "config.json", "model.safetensors"]
    config = json.loads((folder / "config.json").read_text())
    assert config["kind"] == "litemedsam" and config["parameters"] == 9_791_300
    assert len(config["source"]["sha256"]) == 64 and config["arch"]["image_size"] == 256
    assert "lite-copy" in (folder / "card.md").read_text()
    names = [e.name for e in list_segmenters(root=tmp_path)]
    assert names == ["litemedsam", "lite-copy"]
    copy = load_segmenter("lite-copy", root=tmp_path)
    ours = lite_segmenter.network.state_dict()
    for name, tensor in copy.network.state_dict().items():
        assert torch.equal(tensor, ours[name]), name
    assert load_segmenter(folder).name == "lite-copy"        # a folder path works too
    with pytest.raises(SegmentationError, match="already exists"):
        import_checkpoint(litemedsam_asset(), "litemedsam", "lite-copy", root=tmp_path)


def test_bad_names_kinds_and_files_raise_one_readable_line(tmp_path):
    asset = litemedsam_asset()
    with pytest.raises(SegmentationError, match="unknown segmenter kind 'vit_x'"):
        import_checkpoint(asset, "vit_x", "x", root=tmp_path)
    for name in ("", "../up", "a/b", "litemedsam", "x" * 70):
        with pytest.raises(SegmentationError):
            import_checkpoint(asset, "litemedsam", name, root=tmp_path)
    with pytest.raises(SegmentationError, match="no checkpoint file"):
        import_checkpoint(tmp_path / "missing.pth", "litemedsam", "m", root=tmp_path)

    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(asset.read_bytes()[:1_000_000])
    text = tmp_path / "notes.pth"
    text.write_text("not a checkpoint\n")
    unsafe = tmp_path / "unsafe.pth"
    unsafe.write_bytes(pickle.dumps({"weights": shutil.copyfile}))  # a callable: weights_only refuses it
    broken_st = tmp_path / "broken.safetensors"
    broken_st.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}")
    small = tmp_path / "small.pth"
    torch.save({"model": {"image_encoder.weight": torch.zeros(3)}}, small)
    for path, pattern in ((truncated, "not a readable PyTorch"), (text, "not a readable PyTorch"),
                          (unsafe, "not a readable PyTorch"), (broken_st, "not a readable safetensors"),
                          (small, "does not fit a LiteMedSAM")):
        with pytest.raises(CtrgError, match=pattern) as info:
            import_checkpoint(path, "litemedsam", "bad", root=tmp_path)
        assert "\n" not in str(info.value)
    zoo = segmenters_dir(tmp_path)
    assert not zoo.exists() or list(zoo.iterdir()) == []   # nothing written, no temporary folders left


def test_devices():
    with pytest.raises(SegmentationError, match="unknown device"):
        load_segmenter(device="tpu9")
    if not torch.cuda.is_available():
        with pytest.raises(SegmentationError, match="no CUDA GPU"):
            load_segmenter(device="cuda")


def test_unknown_segmenter_and_broken_folder(tmp_path):
    with pytest.raises(SegmentationError, match="no segmenter 'nope'; known: litemedsam"):
        load_segmenter("nope", root=tmp_path)
    broken = segmenters_dir(tmp_path) / "broken"
    broken.mkdir(parents=True)
    (broken / "config.json").write_text("{}")
    entry = [e for e in list_segmenters(root=tmp_path) if e.name == "broken"][0]
    assert "not a ctrg segmenter config" in entry.problem
    with pytest.raises(SegmentationError, match="not a ctrg segmenter config"):
        load_segmenter("broken", root=tmp_path)


@pytest.fixture(scope="module")
def random_vit_b(tmp_path_factory):
    """A randomly initialised segment-anything ViT-B state dict saved as a .pth (no real weights offline)."""
    from segment_anything import sam_model_registry

    torch.manual_seed(0)
    net = sam_model_registry["vit_b"](checkpoint=None)
    path = tmp_path_factory.mktemp("sam") / "sam_vit_b_random.pth"
    torch.save({"model": net.state_dict()}, path)
    return path, net


def test_import_sam_vit_b_checkpoint(tmp_path, random_vit_b):
    path, original = random_vit_b
    folder = import_checkpoint(path, "vit_b", "sam-b", root=tmp_path)
    config = json.loads((folder / "config.json").read_text())
    assert config["kind"] == "vit_b" and config["arch"] == ARCHITECTURES["vit_b"].to_dict()
    assert 89e6 < config["parameters"] < 95e6
    seg = load_segmenter("sam-b", root=tmp_path)
    assert seg.kind == "vit_b" and seg.spec.image_size == 1024
    expected = original.state_dict()
    for name, tensor in seg.network.state_dict().items():
        assert torch.equal(tensor, expected[name]), name
    assert torch.equal(seg.network.pixel_mean, original.pixel_mean)
    # the prompt path at 1024 px on a stand-in embedding (a real ViT-B embedding costs ~23 s on a CPU)
    torch.manual_seed(1)
    geometry = InputGeometry.for_slice((300, 200), seg.spec)
    emb = Embedding(torch.randn(1, 256, 64, 64), geometry, np.zeros((300, 200), np.uint8), (40.0, 400.0), seg.name)
    mask = seg.predict(emb, points=[(150, 100, True)])
    assert mask.shape == (300, 200) and mask.dtype == bool
    assert seg.predict(emb, box=(10, 20, 120, 250), points=[(50, 60, False)]).shape == (300, 200)
    # the same file as a MedSAM checkpoint (ViT-B weights, [0, 1] inputs stretched to 1024 x 1024)
    medsam = import_checkpoint(path, "medsam", "medsam-random", root=tmp_path)
    assert json.loads((medsam / "config.json").read_text())["arch"]["resize"] == "square"
    # ViT-B weights are not ViT-L weights
    with pytest.raises(SegmentationError, match="does not fit a Segment Anything ViT-L network"):
        import_checkpoint(path, "vit_l", "wrong", root=tmp_path)
    assert sorted(e.name for e in list_segmenters(root=tmp_path)) == ["litemedsam", "medsam-random", "sam-b"]


@pytest.mark.slow
def test_sam_vit_b_embeds_a_real_slice_at_1024(tmp_path, random_vit_b):
    """The full ViT-B path, encoder included (random weights: shape and coordinates only)."""
    path, _ = random_vit_b
    import_checkpoint(path, "vit_b", "sam-b", root=tmp_path)
    seg = load_segmenter("sam-b", root=tmp_path)
    emb = seg.embed(np.full((120, 80), 40.0, np.float32), key=("s", 0, 0))
    assert tuple(emb.features.shape) == (1, 256, 64, 64) and emb.shape == (120, 80)
    assert seg.predict(("s", 0, 0), box=(5, 5, 60, 100)).shape == (120, 80)
