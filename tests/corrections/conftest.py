"""Fixtures: a small chest CT written as DICOM with patient identifiers, read back through the io layer."""

from __future__ import annotations

import pytest

from ctrg_desktop.io.dicom_write import write_dicom_series
from ctrg_desktop.io.readers import read_study
from ctrg_desktop.io.volume import StudyMeta

PHI = StudyMeta(patient_name="Testpatient^Jane", patient_id="PID-4711-XYZ", birth_date="19600229", sex="F",
                age="064Y", study_date="20240115", study_time="101530", accession_number="ACC98765",
                institution="Example General Hospital", referring_physician="Referrer^Robert",
                study_instance_uid="1.2.826.0.1.3680043.8.498.4711")
#: strings that must appear nowhere in a record (searched in the decompressed files too)
PHI_VALUES = ("Testpatient", "PID-4711-XYZ", "19600229", "1960-02-29", "ACC98765", "Example General Hospital",
              "Referrer", "1.2.826.0.1.3680043.8.498.4711", "Testpatient_Jane_CT")


@pytest.fixture(scope="session")
def phi_volume(tmp_path_factory, phantom_study):
    """The phantom as a DICOM series carrying PHI, in a folder named after the patient, read back."""
    folder = tmp_path_factory.mktemp("phi") / "Testpatient_Jane_CT"
    volume = phantom_study.volume.with_array(phantom_study.volume.array, meta=PHI)
    write_dicom_series(volume, folder, description="CHEST Testpatient")
    study = read_study(folder)
    assert study.meta.patient_name == PHI.patient_name and "Testpatient" in study.series.source_path
    return study
