"""The 18 CT-RATE multi-abnormality labels, in the column order of CT-RATE's label CSVs."""

from __future__ import annotations

CT_RATE_LABELS: tuple[str, ...] = (
    "Medical material",
    "Arterial wall calcification",
    "Cardiomegaly",
    "Pericardial effusion",
    "Coronary artery wall calcification",
    "Hiatal hernia",
    "Lymphadenopathy",
    "Emphysema",
    "Atelectasis",
    "Lung nodule",
    "Lung opacity",
    "Pulmonary fibrotic sequela",
    "Pleural effusion",
    "Mosaic attenuation pattern",
    "Peribronchial thickening",
    "Consolidation",
    "Bronchiectasis",
    "Interlobular septal thickening",
)

#: The structure (of the ``chest_ct`` set) whose findings report each label: the observation
#: head of a label reads that structure's token, and a draft shows the label under it.
LABEL_STRUCTURES: dict[str, str] = {
    "Medical material": "others",
    "Arterial wall calcification": "mediastinum and heart",
    "Cardiomegaly": "mediastinum and heart",
    "Pericardial effusion": "mediastinum and heart",
    "Coronary artery wall calcification": "mediastinum and heart",
    "Hiatal hernia": "esophagus",
    "Lymphadenopathy": "mediastinum and heart",
    "Emphysema": "lung",
    "Atelectasis": "lung",
    "Lung nodule": "lung",
    "Lung opacity": "lung",
    "Pulmonary fibrotic sequela": "lung",
    "Pleural effusion": "pleura",
    "Mosaic attenuation pattern": "lung",
    "Peribronchial thickening": "trachea and bronchi",
    "Consolidation": "lung",
    "Bronchiectasis": "trachea and bronchi",
    "Interlobular septal thickening": "lung",
}
