"""Export fixtures: small DICOM series written by the project's writer, drafts and report content."""

from __future__ import annotations

import numpy as np
import pytest

from ctrg_desktop.export import ReportContent, study_info
from ctrg_desktop.inference import DraftReport, StructureDraft
from ctrg_desktop.io.dicom_write import write_dicom_series
from ctrg_desktop.io.readers import read_study
from ctrg_desktop.io.volume import StudyMeta, Volume

SHAPE = (8, 24, 20)
L, R, P, A, S, I = (np.array(v, float) for v in
                    ([1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]))
#: Stored slices from head to feet with ImageOrientationPatient [-1,0,0, 0,-1,0]: the reader
#: reverses the slice order and flips both in-plane axes, so a mask voxel's source frame and
#: pixel differ from its array index on every axis.
FEET_FIRST_FLIPPED = np.column_stack([I, A, R])
STRUCTURES = [("lung", "#81c784", ["Nodule of 8 mm in the right upper lobe.", "No effusion."]),
              ("mediastinum and heart", "#e53935", ["Heart size is normal."]),
              ("bone", "#fff176", [])]


def index_volume(direction=FEET_FIRST_FLIPPED, shape=SHAPE, origin=(10.0, -20.0, 50.0),
                 spacing=(3.0, 0.8, 0.7)) -> Volume:
    """HU values that name the voxel (all distinct), with identifiers to carry into DICOM."""
    values = (np.arange(int(np.prod(shape))).reshape(shape) - 2000).astype(np.int16)
    meta = StudyMeta(patient_name="Doe^Jane", patient_id="P123", study_date="20240102", accession_number="A1")
    return Volume(values, spacing, origin, direction, meta=meta)


@pytest.fixture(scope="session")
def dicom_study(tmp_path_factory):
    """``(study Volume as read, folder, written file paths)`` of a 8-slice flipped series."""
    folder = tmp_path_factory.mktemp("dicom") / "series"
    paths = write_dicom_series(index_volume(), folder, description="export test")
    return read_study(folder), folder, paths


@pytest.fixture
def content(dicom_study) -> ReportContent:
    study = dicom_study[0]
    return ReportContent(study=study_info(study), model={"name": "demo", "version": "0a1b2c3d4e5f"},
                         structures=[_structure(*s) for s in STRUCTURES])


def _structure(name, colour, sentences):
    from ctrg_desktop.export import StructureText

    return StructureText(name, colour, list(sentences))


def make_draft(volume: Volume) -> DraftReport:
    """A DraftReport as :func:`ctrg_desktop.inference.draft_report` returns it (study without UIDs)."""
    study = {k: v for k, v in study_info(volume).items() if not k.endswith("_uid")}
    structures = [StructureDraft(index=n, name=name, colour=colour, sentences=list(sentences),
                                 text=" ".join(sentences) or f"No abnormality found in {name}.",
                                 mentioned=bool(sentences), top_patches=[])
                  for n, (name, colour, sentences) in enumerate(STRUCTURES)]
    return DraftReport(model={"name": "demo", "folder": "", "version": "0a1b2c3d4e5f", "config_hash": "abc"},
                       study=study, preprocessing={}, generation={}, device="cpu",
                       report=" ".join(s for _, _, ss in STRUCTURES for s in ss), structures=structures,
                       timings={}, created="2026-05-01T14:03:22+02:00")
