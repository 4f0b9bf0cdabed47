"""Where a draft's similar cases come from (numpy, no Qt, no torch): the drafting model's reference
index and the draft's observation logits.

The index is ``reference_index.npz`` (:data:`~ctrg_desktop.retrieval.index.INDEX_NAME`) beside the
weights of the model that drafted: its folder is found by the draft's model name in the zoo
catalogue, else by the folder the draft records. It is used only while the weights beside it are
those that made the draft (the draft's ``model.version``: the first 12 hex digits of the weights
file's SHA-256); otherwise, or when there is none or it cannot be read, :class:`IndexUnavailable`
says so in one line. Loaded indexes are cached while the index file and the user's accepted
corrections of its model are unchanged.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import numpy as np

from ctrg_desktop.data.labels import CT_RATE_LABELS
from ctrg_desktop.errors import CtrgError
from ctrg_desktop.hashing import file_sha256
from ctrg_desktop.model.catalogue import CONFIG_NAME, WEIGHTS_NAME, zoo_folders
from ctrg_desktop.retrieval.index import INDEX_NAME, ReferenceIndex
from ctrg_desktop.retrieval.projection import logits_from_probabilities

LOGIT_CLIP = 9.0  #: |logit| at most 9 (p within 1.2e-4 .. 1 - 1.2e-4): a probability of 0 or 1 stays finite
BUILD_COMMAND = "ctrg retrieval index --model {name} --data DIR"
_CT_RATE_NAME = re.compile(r"^((?:train|valid|test)_\d+)_")


class IndexUnavailable(CtrgError):
    """No usable reference index for a draft (one readable line, shown in the dock)."""


def draft_logits(observations) -> np.ndarray:
    """(18,) float32 logits log(p / (1 - p)), clipped to +-:data:`LOGIT_CLIP`, of a draft's
    ``observations`` ({"label", "probability"} dicts) in CT-RATE label order."""
    found = {}
    for entry in observations or ():
        try:
            found[str(entry["label"])] = float(entry["probability"])
        except (KeyError, TypeError, ValueError):
            continue
    if not found:
        raise IndexUnavailable("This draft has no observation probabilities (its model has no observation "
                               "heads): no similar cases")
    missing = [label for label in CT_RATE_LABELS if label not in found or not np.isfinite(found[label])]
    if missing:
        raise IndexUnavailable(f"This draft lacks the probability of {', '.join(missing[:3])}"
                               f"{' ...' if len(missing) > 3 else ''}: no similar cases")
    p = np.array([found[label] for label in CT_RATE_LABELS], dtype=np.float64)
    return np.clip(logits_from_probabilities(p, eps=1e-12), -LOGIT_CLIP, LOGIT_CLIP)


def study_patient(study: dict) -> str:
    """The CT-RATE patient ("valid_12") of a draft's study file named like one ("valid_12_a_1.nii.gz"),
    else "": its own references are left out of its similar cases."""
    name = Path(str((study or {}).get("source") or "")).name
    match = _CT_RATE_NAME.match(name)
    return match.group(1) if match else ""


def model_folder(model: dict) -> Path | None:
    """The folder of the draft's model (``model``: the draft's model info): by name in the zoo
    catalogue, else the folder the draft records; None when neither exists."""
    name = str((model or {}).get("name") or "")
    for zoo_name, _, folder in zoo_folders():
        if zoo_name == name:
            return folder
    recorded = str((model or {}).get("folder") or "")
    return Path(recorded) if recorded and (Path(recorded) / CONFIG_NAME).is_file() else None


@functools.lru_cache(maxsize=8)
def _weights_version(path: str, mtime_ns: int, size: int) -> str:
    return file_sha256(path)[:12]


def _stamp(path: Path) -> tuple:
    try:
        st = path.stat()
    except OSError:
        return ()
    return (st.st_mtime_ns, st.st_size)


class IndexCache:
    """Loaded indexes by path, reloaded when the index or its model's user corrections change."""

    def __init__(self):
        self._entries: dict[str, tuple[tuple, tuple, ReferenceIndex]] = {}

    def load(self, path: Path) -> ReferenceIndex:
        """The index at ``path`` (``CtrgError`` and friends from :meth:`ReferenceIndex.load` pass through)."""
        key, stamp = str(path), _stamp(path)
        cached = self._entries.get(key)
        if cached is not None and cached[0] == stamp and cached[1] == _stamp(cached[2].user_file or Path("")):
            return cached[2]
        index = ReferenceIndex.load(path)
        self._entries[key] = (stamp, _stamp(index.user_file or Path("")), index)
        return index

    def index_for(self, model: dict) -> ReferenceIndex:
        """The reference index of the model that drafted (``model``: the draft's model info)."""
        model = model or {}
        name = str(model.get("name") or "?")
        folder = model_folder(model)
        if folder is None:
            raise IndexUnavailable(f"Model {name} is not in the model zoo: no index of similar cases")
        version = folder.resolve()
        path = version / INDEX_NAME
        if not path.is_file():
            raise IndexUnavailable(f"Model {name} has no index of similar cases: build one with "
                                   f"'{BUILD_COMMAND.format(name=name)}'")
        weights, drafted = version / WEIGHTS_NAME, str(model.get("version") or "")
        if drafted and weights.is_file():
            current = _weights_version(str(weights), *_stamp(weights))
            if current != drafted:
                raise IndexUnavailable(f"The index of {name} belongs to its weights {current}, this draft was "
                                       f"made by {drafted}: draft again, or rebuild it with 'ctrg retrieval index'")
        try:
            return self.load(path)
        except (CtrgError, OSError, KeyError, TypeError, ValueError) as exc:
            reason = " ".join(str(exc).split()) or type(exc).__name__
            raise IndexUnavailable(f"The index of similar cases of {name} cannot be used: {reason}") from None


__all__ = ["IndexCache", "IndexUnavailable", "draft_logits", "model_folder", "study_patient"]
