"""What the reader sees while the segmenter works, in the real main window (Xvfb, real VTK) with a
stand-in worker (:mod:`tests.app.segment_fakes`: the real protocol and handlers, a threshold
instead of LiteMedSAM, a set delay per slice): a propagation's slices painted into the mask as they
come, before it ends, with a moving progress bar and seconds per slice; Cancel keeping the slices
done; one undo step for the whole propagation; "Segment structure" with its steps and Cancel; a
mask drawn in the 3D view as a surface where the mask is."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("vtkmodules")

from tests.app.segment_fakes import ThreadedSegmenterProcess  # noqa: E402

pytestmark = pytest.mark.gui
START = 20  # the start slice (axial) of the simple study's lungs (slices 5..35)


def with_fake_worker(window, delay: float):
    seg = window.segmentation
    seg.worker.process = ThreadedSegmenterProcess(delay)
    return seg


@pytest.fixture
def study_window(window, simple_study):
    volume, lungs, path = simple_study
    assert window.open_study(path), window.last_error
    window.set_crosshair_visible(False)
    window.state.set_cursor((START, 32, 32))
    window.render_all()
    yield window
    seg = window.segmentation
    seg.worker.cancel_propagation()
    assert seg.worker.wait_idle(30)
    seg.worker.process.stop()


def left_lung(lungs, k):
    """The patient's right lung (image left half) on slice ``k``."""
    return lungs[k] & (np.arange(64) < 32)[None, :]


def start_mask(seg, lungs, name="lung"):
    mask = seg.new_mask(name)
    seg.masks.set_slice(name, 0, START, left_lung(lungs, START))
    seg.masks.set_opacity(name, 1.0)
    return mask


def colour_pixels(view, rgb, tolerance=40) -> int:
    view.render_now()
    pixels = view.grab_array().astype(int)
    return int((np.abs(pixels - np.asarray(rgb) * 255).max(axis=2) < tolerance).sum())


def test_each_slice_is_painted_before_the_propagation_ends(study_window, simple_study, qtbot):
    window = study_window
    _, lungs, _ = simple_study
    seg = with_fake_worker(window, delay=0.15)
    mask = start_mask(seg, lungs)
    seg.max_slices = 6
    coronal = window.slice_views["coronal"]
    before = colour_pixels(coronal, mask.rgb())
    fractions, seen = [], []
    window.status.progress_bar.valueChanged.connect(fractions.append)

    def on_slice(job, info):  # connected after the controller's slot: the slice is in the mask already
        index = info["index"]
        seen.append({"index": index, "painted": bool(np.array_equal(mask.array[index], left_lung(lungs, index))),
                     "running": seg.propagating, "message": window.statusBar().currentMessage(),
                     "voxels": seg.panel.item_of("lung").text(2),
                     "bar": window.status.progress_bar.isVisible()})
        if len(seen) == 6:
            seen[-1]["coronal"] = colour_pixels(coronal, mask.rgb())

    seg.worker.slice_done.connect(on_slice)
    with qtbot.waitSignal(seg.propagation_done, timeout=60_000) as done:
        job = seg.propagate("lung", window.slice_views["axial"])
        assert job is not None and window.status.progress_bar.isVisible()
    assert done.args == [True], window.last_error
    assert [s["index"] for s in seen] == [21, 19, 22, 18, 23, 17, 24, 16, 25, 15, 26, 14]  # both ways in turn
    assert all(s["painted"] and s["running"] and s["bar"] for s in seen)  # shown while it still runs
    assert any("s per slice" in s["message"] for s in seen)
    assert len({s["voxels"] for s in seen}) == len(seen)                 # the Masks dock counts them as they come
    assert seen[5]["coronal"] > before                                   # drawn in another view meanwhile
    assert fractions == sorted(fractions) and len(set(fractions)) >= 6   # the bar moves forwards
    assert mask.slices_used(0).tolist() == list(range(14, 27))
    assert all(np.array_equal(mask.array[k], left_lung(lungs, k)) for k in range(14, 27))
    message = window.statusBar().currentMessage()
    assert "Propagated mask lung" in message and "s per slice" in message and not window.status.progress_bar.isVisible()
    assert seg.masks.undo() == "propagate mask lung"                     # one undo step for the whole propagation
    assert mask.slices_used(0).tolist() == [START]
    seg.masks.redo()
    assert mask.slices_used(0).tolist() == list(range(14, 27))


def test_cancel_keeps_the_slices_done_so_far(study_window, simple_study, qtbot):
    window = study_window
    _, lungs, _ = simple_study
    seg = with_fake_worker(window, delay=0.8)
    mask = start_mask(seg, lungs)
    seg.max_slices = 12
    painted = []

    def on_slice(job, info):
        painted.append(info["index"])
        if len(painted) == 3:  # the reader has seen three slices come and stops it
            window.status.cancel_button.click()

    seg.worker.slice_done.connect(on_slice)
    with qtbot.waitSignal(seg.propagation_done, timeout=120_000) as done:
        seg.propagate("lung", window.slice_views["axial"])
    assert done.args == [True]
    kept = mask.slices_used(0).tolist()
    assert kept == sorted([START, *painted]) and 4 <= len(kept) < 1 + 2 * 12, kept  # what was shown stays
    assert "Propagation cancelled; kept mask lung" in window.statusBar().currentMessage()
    assert not window.status.progress_bar.isVisible()
    seg.undo()
    assert mask.slices_used(0).tolist() == [START]


def fake_draft(lungs):
    """A draft with one structure whose top patch covers the right lung on the start slice."""
    jj, ii = np.nonzero(left_lung(lungs, START))
    patch = {"box_voxels": [[START - 1, int(jj.min()), int(ii.min())],
                            [START + 2, int(jj.max()) + 1, int(ii.max()) + 1]],
             "centre_voxel": [START, int(jj.mean()), int(ii.mean())], "score": 1.0, "inside_study": True}
    return SimpleNamespace(structures=[SimpleNamespace(name="lung", colour="#e53935", top_patches=[patch])])


def test_segment_structure_shows_its_steps_and_can_be_cancelled(study_window, simple_study, qtbot, monkeypatch):
    window = study_window
    _, lungs, _ = simple_study
    seg = with_fake_worker(window, delay=1.5)
    monkeypatch.setattr(window.drafting, "draft", fake_draft(lungs))
    monkeypatch.setattr(window.drafting, "focused", 0)
    axial = window.slice_views["axial"]
    window.layout_widget.active = "axial"
    values, messages = [], []
    window.status.progress_bar.valueChanged.connect(values.append)
    window.statusBar().messageChanged.connect(messages.append)
    with qtbot.waitSignal(seg.mask_done, timeout=60_000) as done:
        job = seg.segment_structure(view=axial)
        assert window.status.progress_bar.isVisible() and window.status.cancel_button.isVisible()
    assert done.args == [True], window.last_error
    assert any("starting the segmenter" in m for m in messages) and any("embedding the slice" in m for m in messages)
    assert len(set(values)) >= 3 and values == sorted(values)      # it moved during the 1.5 s embedding
    assert not window.status.progress_bar.isVisible() and job.ok
    assert seg.masks.get("lung").slices_used(0).tolist() == [START]

    # Cancel: the bar goes at once, the answer is dropped when it comes
    window.state.move_slice(0, 1)
    with qtbot.waitSignal(seg.mask_done, timeout=60_000) as done:
        job = seg.segment_structure(view=axial)
        qtbot.waitUntil(lambda: "embedding the slice" in window.statusBar().currentMessage(), timeout=10_000)
        window.status.cancel_button.click()
        assert not window.status.progress_bar.isVisible()
        assert "Cancelled: segmenting lung" in window.statusBar().currentMessage()
    assert done.args == [False] and job.cancelled
    assert seg.masks.names == ["lung"]


def test_a_mask_is_a_surface_in_the_3d_view_where_the_mask_is(study_window, simple_study, qtbot):
    window = study_window
    volume, lungs, _ = simple_study
    seg = window.segmentation
    seg.new_mask("lung")
    array = np.zeros(volume.shape, bool)
    array[10:31] = lungs[10:31] & (np.arange(64) < 32)[None, None, :]
    seg.masks.set_volume("lung", array, "replace")
    seg.masks.set_colour("lung", "#ff8000")
    seg.flush_surfaces()
    actor = window.volume_view.overlays.actors[id(seg.layer_of("lung"))]
    actor.GetMapper().Update()
    polydata = actor.GetMapper().GetInput()
    assert polydata.GetNumberOfPoints() > 100 and polydata.GetPointData().GetNormals() is not None  # smooth shading
    bounds = np.asarray(actor.GetBounds()).reshape(3, 2)        # world (LPS mm), with the study's placement
    kk, jj, ii = np.nonzero(array)
    corners = np.array([[k, j, i] for k in (kk.min(), kk.max()) for j in (jj.min(), jj.max())
                        for i in (ii.min(), ii.max())], float)
    world = np.array([volume.voxel_to_world(c) for c in corners])
    spacing = max(volume.spacing)
    assert np.all(np.abs(bounds[:, 0] - world.min(axis=0)) < spacing), (bounds, world.min(axis=0))
    assert np.all(np.abs(bounds[:, 1] - world.max(axis=0)) < spacing), (bounds, world.max(axis=0))
    assert np.allclose(actor.GetProperty().GetColor(), (1.0, 128 / 255, 0.0), atol=0.01)
    view = window.volume_view
    window.set_volume_preset("bone")  # soft tissue would hide the lungs behind the chest wall
    view.renderer.ResetCamera()
    shown = colour_pixels(view, (1.0, 128 / 255, 0.0), tolerance=90)
    seg.masks.set_visible("lung", False)                         # the Masks dock's tick box
    assert not actor.GetVisibility()
    hidden = colour_pixels(view, (1.0, 128 / 255, 0.0), tolerance=90)
    assert shown > 200 and shown > 5 * hidden, (shown, hidden)
    seg.masks.set_slice("lung", 0, 30, np.zeros((64, 64), bool))  # edited while hidden: rebuilt when shown
    seg.flush_surfaces()
    seg.masks.set_visible("lung", True)
    actor = window.volume_view.overlays.actors[id(seg.layer_of("lung"))]
    actor.GetMapper().Update()
    assert actor.GetVisibility() and actor.GetBounds()[5] < bounds[2, 1] - volume.spacing[0] / 2


def test_warm_up_embeds_the_slice_in_view_when_a_study_opens(window, simple_study, qtbot):
    """With ``prewarm`` (the app sets it), opening a study starts the worker and embeds the slice
    in view: the first click on it only decodes. A failing warm-up stays quiet."""
    volume, lungs, path = simple_study
    seg = with_fake_worker(window, delay=0.3)
    seg.prewarm = True
    try:
        with qtbot.waitSignal(seg.embedded, timeout=30_000) as warmed:
            assert window.open_study(path), window.last_error
        job = warmed.args[0]
        view = seg.current_view()
        assert job.ok and not job.result["cached"] and job.context["warm-up"], job.error
        assert (job.payload["axis"], job.payload["index"]) == (view.axis, view.slice_index)
        assert seg.worker.process.loaded["name"] == "threshold"
        k = view.slice_index
        row, col = np.argwhere(left_lung(lungs, k))[0]
        with qtbot.waitSignal(seg.mask_done, timeout=30_000) as done:
            seg.add_point(view, (float(col), float(row)), True)
        assert done.args == [True], window.last_error
        assert seg.last_mask_job.result["cached"] and seg.last_mask_job.result["embed_seconds"] == 0.0

        seg.worker.process.segmenter_impl.embed = lambda *a, **k: (_ for _ in ()).throw(RuntimeError("no weights"))
        window.state.move_slice(0, 1)
        before = window.statusBar().currentMessage()
        with qtbot.waitSignal(seg.embedded, timeout=30_000) as failed:
            seg.warm_up()
        assert failed.args[0].error == "RuntimeError: no weights"
        assert "Cannot prepare the segmenter" not in window.statusBar().currentMessage() + before
    finally:
        seg.prewarm = False
        assert seg.worker.wait_idle(30)
        seg.worker.process.stop()
