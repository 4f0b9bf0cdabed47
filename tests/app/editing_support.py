"""Shared by the report-editing GUI tests: the phantom chest CT written as a DICOM series that
carries patient identifiers, read back, and the real demo model's draft of it, saved with its
attention map. Made once per test session (the draft takes ~20 s on one CPU thread)."""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from ctrg_desktop.io.volume import StudyMeta

PHI = StudyMeta(patient_name="Testpatient^Jane", patient_id="PID-4711-XYZ", birth_date="19600229", sex="F",
                age="064Y", study_date="20240115", study_time="101530", accession_number="ACC98765",
                institution="Example General Hospital", referring_physician="Referrer^Robert",
                study_instance_uid="1.2.826.0.1.3680043.8.498.4711")


@dataclass(frozen=True)
class DraftedStudy:
    volume: object    #: the study as read back from DICOM
    folder: Path      #: the DICOM series folder
    draft: object     #: the demo model's DraftReport of it
    draft_path: Path  #: the draft saved as report.json (+ report.attention.npy)
    label_map: object  #: the phantom's anatomy labels on the study grid

    def lungs(self):
        """The phantom's lungs as a boolean mask on the study grid."""
        import numpy as np

        from ctrg_desktop.data.phantoms import structure_of_label

        return np.isin(self.label_map, [v for v, s in structure_of_label().items() if s == "lung"])


@functools.lru_cache(maxsize=1)
def drafted_study() -> DraftedStudy:
    """Phantom 7 (48x64x64) as DICOM with PHI + the demo model's draft (once per session)."""
    from ctrg_desktop.data.phantoms import PhantomConfig, generate_study
    from ctrg_desktop.inference import draft_report
    from ctrg_desktop.io.dicom_write import write_dicom_series
    from ctrg_desktop.io.readers import read_study
    from ctrg_desktop.model.zoo import load_model

    root = Path(tempfile.mkdtemp(prefix="ctrg-editing-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    phantom = generate_study(7, PhantomConfig(shape=(48, 64, 64), spacing=(6.0, 5.0, 5.0)))
    folder = root / "series"
    write_dicom_series(phantom.volume.with_array(phantom.volume.array, meta=PHI), folder, description="CHEST CT")
    volume = read_study(folder)
    assert volume.shape == phantom.volume.shape and volume.series.source_format == "dicom-series"
    try:
        model = load_model("demo")
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"the demo model cannot be loaded: {exc}")
    draft = draft_report(volume, model, "cpu", decode_threads=1)
    path = draft.save(root / "draft" / "report.json")
    return DraftedStudy(volume, folder, draft, path, phantom.label_map)


def mentioned(draft, count: int = 1) -> list[int]:
    """Indices of structures with at least ``count`` sentences (skips the test when none)."""
    found = [s.index for s in draft.structures if len(s.sentences) >= count and s.name != "others"]
    if not found:
        pytest.skip(f"the draft has no structure with {count} sentences")
    return found


def open_with_draft(window, study: DraftedStudy) -> None:
    """Open the DICOM study in ``window`` and review its saved draft (no model in the GUI)."""
    assert window.open_study(study.folder), window.last_error
    assert window.drafting.open_draft(study.draft_path), window.last_error
    assert window.editing.document is not None


def open_copy(window, study: DraftedStudy, folder: Path) -> Path:
    """Like :func:`open_with_draft`, with the draft copied into ``folder`` first (a Save writes
    over the copy, never over the session's shared draft); returns the copy's path."""
    from ctrg_desktop.inference import attention_path_for

    folder.mkdir(parents=True, exist_ok=True)
    copy = folder / "report.json"
    shutil.copyfile(study.draft_path, copy)
    shutil.copyfile(attention_path_for(study.draft_path), attention_path_for(copy))
    assert window.open_study(study.folder), window.last_error
    assert window.drafting.open_draft(copy), window.last_error
    assert window.editing.document is not None and window.drafting.draft_path == copy
    return copy


def add_box_mask(window, name: str = "nodule", structure: str | None = "lung", box=((20, 26), (20, 30), (15, 25))):
    """A mask of the voxels in ``box`` (as a SAM result would add it); returns it."""
    import numpy as np

    masks = window.segmentation.masks
    array = np.zeros(masks.shape, bool)
    array[tuple(slice(a, b) for a, b in box)] = True
    return masks.add(name, array=array, structure=structure)
