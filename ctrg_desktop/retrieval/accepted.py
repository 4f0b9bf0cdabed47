"""An accepted correction joins the similar cases of the model that drafted it (numpy; no torch).

The GUI's Accept calls :func:`add_accepted` after the corrections record is written: the final
report (de-identified by the index's PHI check), the draft's observation logits and a key-slice
thumbnail go into the user's corrections file of that model's reference index.
"""

from __future__ import annotations

import numpy as np

from ctrg_desktop.retrieval.thumbnail import thumbnail


def draft_key_slice(observations, structures, depth: int) -> int:
    """The axial slice (study voxels) of the rank-1 patch of the structure of the draft's most probable
    observation, or the middle slice: ``observations`` {"label", "probability", "structure"} dicts,
    ``structures`` the draft's StructureDrafts (``name``, ``top_patches`` with ``centre_voxel``)."""
    best = max(observations or (), key=lambda o: float(o.get("probability", 0.0)), default=None)
    patches = {s.name: s.top_patches for s in structures or ()}
    rows = patches.get((best or {}).get("structure")) or []
    inside = [p for p in rows if p.get("inside_study")]
    if not inside:
        return depth // 2
    return int(np.clip(round(float(inside[0]["centre_voxel"][0])), 0, depth - 1))


def add_accepted(index, record_id: str, report: str, logits, volume, observations, structures):
    """Add one accepted correction to ``index`` (a :class:`~.index.ReferenceIndex`); returns the user file."""
    k = draft_key_slice(observations, structures, volume.array.shape[0])
    return index.add_correction(record_id, report, logits, thumbnail=thumbnail(volume.array[k]), volume=volume)
