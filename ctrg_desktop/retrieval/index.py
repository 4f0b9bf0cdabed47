"""The reference index of "similar prior cases": exact nearest references of a study, numpy only.

A :class:`ReferenceIndex` file (``reference_index.npz`` beside a model; :mod:`.arrays_file`
format ``ctrg-reference-index`` version 1) holds the retriever's :class:`~.projection.Projection`,
per reference its 18 observation logits and embedding (R, dim) float32, its name, patient, source
("train", "valid"), report text, 18 label statuses (0 absent, 1 negated, 2 uncertain,
3 positive) and a 64 x 64 uint8 key-slice thumbnail, and the id of the model whose logits it
holds (:func:`ctrg_desktop.retrieval.build.model_id`, the SHA-256 of its float16 weights).

Accepted corrections go into a separate user file, one per model id
(:func:`corrections_path`: ``user_data_dir()/retrieval/corrections-<id>.npz``), written atomically
under a lock by :meth:`ReferenceIndex.add_correction`; :meth:`ReferenceIndex.load` merges it
(source "correction", keyed by the corrections record id, no patient). A torn or foreign user
file is ignored with a warning and never breaks queries.
"""

from __future__ import annotations

import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ctrg_desktop.errors import CtrgError
from ctrg_desktop.retrieval.arrays_file import ArraysFileError, load_arrays, save_arrays
from ctrg_desktop.retrieval.projection import ARRAY_NAMES, Projection
from ctrg_desktop.retrieval.status import N_LABELS, report_statuses

INDEX_NAME = "reference_index.npz"
INDEX_FORMAT = "ctrg-reference-index"
CORRECTIONS_FORMAT = "ctrg-reference-corrections"
THUMB = 64  #: thumbnails are THUMB x THUMB uint8
SOURCES = ("train", "valid", "correction")


class IndexMismatchError(CtrgError):
    """A reference index built with another model than the one asking."""


@dataclass(frozen=True)
class Neighbour:
    """One retrieved reference; ``distance`` in the retriever's space (smaller is closer)."""

    name: str
    patient: str
    source: str
    report: str
    statuses: tuple  #: 18 ints, 0 absent / 1 negated / 2 uncertain / 3 positive
    distance: float
    thumbnail: np.ndarray  #: (64, 64) uint8


def corrections_path(model_id: str, user_dir=None) -> Path:
    """The user file of accepted corrections for ``model_id`` (``user_dir``: folder, default
    ``user_data_dir()/"retrieval"``)."""
    from ctrg_desktop.resources import user_data_dir

    if not model_id or not all(ch in "0123456789abcdef" for ch in model_id):
        raise ValueError(f"model id must be hex digits, got {model_id!r}")
    folder = Path(user_dir) if user_dir is not None else user_data_dir() / "retrieval"
    return folder / f"corrections-{model_id[:16]}.npz"


def _check_table(n: int, logits, statuses, thumbnails, texts: dict) -> None:
    for key, values in texts.items():
        if len(values) != n:
            raise ValueError(f"{key}: {len(values)} values for {n} references")
    if logits.shape != (n, N_LABELS) or statuses.shape != (n, N_LABELS) or thumbnails.shape != (n, THUMB, THUMB):
        raise ValueError(f"reference arrays disagree: logits {logits.shape}, statuses {statuses.shape}, "
                         f"thumbnails {thumbnails.shape} for {n} references")
    if statuses.size and statuses.max() > 3:
        raise ValueError("statuses must lie in 0..3")


class ReferenceIndex:
    """References (train/valid reports of one model, plus the user's accepted corrections) and exact search.

    ``logits`` (R, 18), ``statuses`` (R, 18) 0..3, ``thumbnails`` (R, 64, 64) uint8; ``names``,
    ``patients``, ``sources``, ``reports``: R strings. Embeddings are computed with ``projection``.
    """

    def __init__(self, projection: Projection, model_id: str, names, patients, sources, reports, logits,
                 statuses, thumbnails=None, model_name: str = "", meta: dict | None = None):
        n = len(names)
        logits = np.asarray(logits, dtype=np.float32).reshape(-1, N_LABELS) if n else np.zeros((0, N_LABELS),
                                                                                             np.float32)
        statuses = np.asarray(statuses, dtype=np.uint8).reshape(-1, N_LABELS) if n else np.zeros((0, N_LABELS),
                                                                                               np.uint8)
        thumbnails = (np.zeros((n, THUMB, THUMB), np.uint8) if thumbnails is None
                      else np.asarray(thumbnails, dtype=np.uint8).reshape(-1, THUMB, THUMB))
        _check_table(n, logits, statuses, thumbnails, {"patients": patients, "sources": sources, "reports": reports})
        bad = sorted(set(sources) - set(SOURCES))
        if bad:
            raise ValueError(f"unknown reference source(s) {bad}: use {', '.join(SOURCES)}")
        if not model_id:
            raise ValueError("a reference index needs the id of the model it was built with")
        self.projection, self.model_id, self.model_name = projection, str(model_id), str(model_name)
        self.meta = dict(meta or {})
        self.names, self.patients = [str(x) for x in names], [str(x) for x in patients]
        self.sources, self.reports = [str(x) for x in sources], [str(x) for x in reports]
        self.logits, self.statuses, self.thumbnails = logits, statuses, thumbnails
        self.user_file: Path | None = None
        self._n_base = n
        self._refresh()

    def __len__(self) -> int:
        return len(self.names)

    def _refresh(self) -> None:
        self.embeddings = (self.projection.embed(self.logits) if len(self.logits)
                           else np.zeros((0, self.projection.dim), np.float32))
        # Poincaré search in float64 (float32 loses distances near the rim); cosine in float32
        self._search = self.embeddings.astype(np.float64 if self.projection.kind == "poincare" else np.float32)
        self._sq = np.einsum("ij,ij->i", self._search, self._search)
        self._codes = {p: i for i, p in enumerate(dict.fromkeys(self.patients))}
        self._patient_codes = np.array([self._codes[p] for p in self.patients], dtype=np.int64)
        self._rows = {name: j for j, name in enumerate(self.names)}

    def row_numbers(self) -> dict[str, int]:
        """{reference name: its row} (base references and merged corrections)."""
        return self._rows

    # ---------------------------------------------------------------------------------- file

    def save(self, path) -> Path:
        """Write the references of the index file (not the user's corrections) atomically."""
        n = self._n_base
        header = {"format": INDEX_FORMAT, "version": 1, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                  "model": {"id": self.model_id, "name": self.model_name}, "retriever": self.projection.header(),
                  "meta": self.meta,
                  "references": [{"name": self.names[i], "patient": self.patients[i], "source": self.sources[i],
                                  "report": self.reports[i]} for i in range(n)]}
        arrays = {"logits": self.logits[:n], "embeddings": self.embeddings[:n], "statuses": self.statuses[:n],
                  "thumbnails": self.thumbnails[:n]}
        arrays.update({f"projection.{k}": v for k, v in self.projection.arrays.items()})
        return save_arrays(path, header, arrays)

    @classmethod
    def load(cls, path, model_id: str | None = None, user_dir=None, corrections: bool = True) -> "ReferenceIndex":
        """The index at ``path``; ``IndexMismatchError`` when ``model_id`` is given and differs from the
        index's. With ``corrections``, the user's accepted corrections for the index's model are merged
        (``user_dir`` as in :func:`corrections_path`)."""
        header, arrays = load_arrays(path, INDEX_FORMAT)
        built_with = header["model"]["id"]
        if model_id is not None and model_id != built_with:
            raise IndexMismatchError(
                f"{path} was built with model {built_with[:12]} ({header['model'].get('name') or 'unnamed'}), "
                f"not with this model ({model_id[:12]}): rebuild it with 'ctrg retrieval index'")
        refs = header["references"]
        projection = Projection.from_header(header["retriever"], arrays, prefix="projection.")
        index = cls(projection, built_with, [r["name"] for r in refs], [r["patient"] for r in refs],
                    [r["source"] for r in refs], [r["report"] for r in refs], arrays["logits"], arrays["statuses"],
                    arrays["thumbnails"], header["model"].get("name", ""), header.get("meta"))
        if corrections:
            index.user_file = corrections_path(built_with, user_dir)
            index._merge(_read_corrections(index.user_file, built_with))
        return index

    def _merge(self, rows: dict | None) -> None:
        """Replace the merged corrections by ``rows`` (None: none)."""
        n = self._n_base
        for key in ("names", "patients", "sources", "reports"):
            setattr(self, key, getattr(self, key)[:n])
        self.logits, self.statuses, self.thumbnails = self.logits[:n], self.statuses[:n], self.thumbnails[:n]
        if rows and len(rows["ids"]):
            k = len(rows["ids"])
            self.names += list(rows["ids"])
            self.patients += [""] * k
            self.sources += ["correction"] * k
            self.reports += list(rows["reports"])
            self.logits = np.concatenate([self.logits, rows["logits"]])
            self.statuses = np.concatenate([self.statuses, rows["statuses"]])
            self.thumbnails = np.concatenate([self.thumbnails, rows["thumbnails"]])
        self._refresh()

    # ---------------------------------------------------------------------------------- query

    def query(self, logits, k: int = 3, exclude_patients=()) -> list:
        """The ``k`` nearest references of (18,) logits (a list of :class:`Neighbour`, nearest first) or
        of (B, 18) logits (a list of such lists); references of ``exclude_patients`` are skipped.
        Exact brute-force search; ties by name."""
        if int(k) < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        x = np.asarray(logits, dtype=np.float32)
        single = x.ndim == 1
        query = self.projection.embed(x)
        if len(self) == 0:
            return [] if single else [[] for _ in range(len(np.atleast_2d(x)))]
        d = np.atleast_2d(self.projection.rank_scores(np.atleast_2d(query), self._search, ref_sq=self._sq))
        if isinstance(exclude_patients, str):
            exclude_patients = [exclude_patients]
        excluded = [self._codes[p] for p in exclude_patients if p and p in self._codes]
        if excluded:
            d[:, np.isin(self._patient_codes, excluded)] = np.inf
        k = min(int(k), len(self))
        part = np.argpartition(d, k - 1, axis=1)[:, :k] if k < len(self) else np.tile(np.arange(len(self)), (len(d), 1))
        out = []
        for row, cand in zip(d, part):
            order = sorted(cand, key=lambda j: (row[j], self.names[j]))
            out.append([self._neighbour(j, float(self.projection.to_distance(row[j]))) for j in order
                        if np.isfinite(row[j])])
        return out[0] if single else out

    def _neighbour(self, j: int, distance: float) -> Neighbour:
        return Neighbour(self.names[j], self.patients[j], self.sources[j], self.reports[j],
                         tuple(int(s) for s in self.statuses[j]), float(distance), self.thumbnails[j])

    # ---------------------------------------------------------------------------------- corrections

    def add_correction(self, record_id: str, report: str, logits, thumbnail=None, volume=None) -> Path:
        """Add an accepted correction (record id of :class:`~ctrg_desktop.corrections.dataset.CorrectionsDataset`,
        its final report text, the study's (18,) logits, an optional (64, 64) uint8 thumbnail) to the
        user file of this index's model, atomically under a lock, and to this index; returns the file.

        With ``volume`` (the study), a report mentioning one of its identifiers is refused
        (:func:`ctrg_desktop.corrections.phi.find_phi`, the check of accepted corrections); no patient
        name or id is stored. Adding the same record id again replaces it.
        """
        from ctrg_desktop.corrections.lock import FileLock

        if not str(record_id).strip():
            raise ValueError("a correction needs its record id")
        report = str(report).strip()
        if not report:
            raise CtrgError("the correction's report is empty")
        if volume is not None:
            _refuse_phi(report, volume)
        x = np.asarray(logits, dtype=np.float32).reshape(-1)
        if x.shape != (N_LABELS,) or not np.all(np.isfinite(x)):
            raise ValueError(f"a correction needs the study's {N_LABELS} finite logits, got shape {x.shape}")
        thumb = (np.zeros((THUMB, THUMB), np.uint8) if thumbnail is None
                 else np.asarray(thumbnail, dtype=np.uint8).reshape(THUMB, THUMB))
        if self.user_file is None:
            self.user_file = corrections_path(self.model_id)
        path = self.user_file
        path.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(path.with_name(path.name + ".lock"), timeout=60):
            rows = _read_corrections(path, self.model_id, keep_torn=True) or _empty_rows()
            keep = [i for i, r in enumerate(rows["ids"]) if r != record_id]
            rows = {key: (np.asarray(v)[keep] if isinstance(v, np.ndarray) else [v[i] for i in keep])
                    for key, v in rows.items()}
            rows["ids"].append(str(record_id))
            rows["reports"].append(report)
            rows["logits"] = np.concatenate([rows["logits"], x[None]])
            rows["statuses"] = np.concatenate([rows["statuses"], report_statuses(report)[None]])
            rows["thumbnails"] = np.concatenate([rows["thumbnails"], thumb[None]])
            header = {"format": CORRECTIONS_FORMAT, "version": 1, "model": {"id": self.model_id},
                      "records": [{"id": i, "report": r} for i, r in zip(rows["ids"], rows["reports"])]}
            save_arrays(path, header, {"logits": rows["logits"], "statuses": rows["statuses"],
                                       "thumbnails": rows["thumbnails"]}, mode=0o600)
        self._merge(rows)
        return path


def _empty_rows() -> dict:
    return {"ids": [], "reports": [], "logits": np.zeros((0, N_LABELS), np.float32),
            "statuses": np.zeros((0, N_LABELS), np.uint8), "thumbnails": np.zeros((0, THUMB, THUMB), np.uint8)}


def _read_corrections(path: Path, model_id: str, keep_torn: bool = False) -> dict | None:
    """The rows of a corrections file, or None (no file; a torn/foreign one with a warning, moved
    aside as ``<name>.torn`` when ``keep_torn`` so that a new write does not lose the evidence)."""
    if not path.exists():
        return None
    try:
        header, arrays = load_arrays(path, CORRECTIONS_FORMAT)
        if header["model"]["id"] != model_id:
            raise ArraysFileError(f"{path} holds corrections of another model ({header['model']['id'][:12]})")
        records = header["records"]
        rows = {"ids": [r["id"] for r in records], "reports": [r["report"] for r in records],
                "logits": arrays["logits"].astype(np.float32), "statuses": arrays["statuses"].astype(np.uint8),
                "thumbnails": arrays["thumbnails"].astype(np.uint8)}
        _check_table(len(records), rows["logits"], rows["statuses"], rows["thumbnails"], {"reports": rows["reports"]})
        return rows
    except (ArraysFileError, KeyError, TypeError, ValueError) as exc:
        warnings.warn(f"ignoring the accepted corrections in {path}: {exc}", RuntimeWarning, stacklevel=3)
        if keep_torn:
            path.replace(path.with_name(path.name + ".torn"))
        return None


def _refuse_phi(report: str, volume) -> None:
    from ctrg_desktop.corrections.phi import find_phi

    with tempfile.TemporaryDirectory() as tmp:
        text = Path(tmp) / "report.txt"
        text.write_text(report, encoding="utf-8")
        hits = find_phi(text, volume)
    if hits:
        fields = sorted({h.field.split(" (")[0].replace("_", " ") for h in hits})
        raise CtrgError(f"not added to the similar cases: the report contains the study's {', '.join(fields)}")


__all__ = ["ARRAY_NAMES", "INDEX_NAME", "IndexMismatchError", "Neighbour", "ReferenceIndex", "corrections_path"]
