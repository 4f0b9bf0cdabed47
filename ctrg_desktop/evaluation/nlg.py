"""Natural-language generation metrics: BLEU-1..4, METEOR, ROUGE-L and CIDEr (pycocoevalcap).

``nlg_metrics(references, hypotheses)`` scores lists of report strings pairwise (one reference
per hypothesis). Texts are tokenised in Python the way pycocoevalcap's PTBTokenizer (a Java
tool) does for report text: lower case, punctuation dropped, hyphenated words and numbers such
as ``23x16.5`` or ``26.02.2015`` kept whole. METEOR runs the bundled ``meteor-1.5.jar`` in one
Java process per call; without Java (or when the jar fails) METEOR is ``None`` and the result
carries a ``"warnings"`` entry instead of raising.

Corpus scores follow pycocoevalcap: BLEU is corpus-level (closest reference length), METEOR is
the jar's aggregate, ROUGE-L (beta 1.2) and CIDEr-D are means of per-report scores. A pair with
an empty side scores ROUGE-L/METEOR 0 (1 when both sides are empty) without reaching the scorers.
CIDEr's document frequencies come from the references, so it needs several reports to mean much.
"""

from __future__ import annotations

import logging
import re
import shutil
import threading
from collections.abc import Sequence

import numpy as np

logger = logging.getLogger(__name__)

NLG_KEYS = ("BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4", "METEOR", "ROUGE-L", "CIDEr")

_TOKEN = re.compile(r"\d+(?:[-.,:/x]\d+)*[a-z]*|[a-z_][a-z0-9_]*(?:[-'/][a-z0-9_]+)*")


def tokenize(text: str) -> list[str]:
    """PTB-style tokens: lower case, punctuation removed.

    >>> tokenize("Heart size increased. A 23x16.5 mm nodule (dated 26.02.2015), effusion-thickening!")
    ['heart', 'size', 'increased', 'a', '23x16.5', 'mm', 'nodule', 'dated', '26.02.2015', 'effusion-thickening']
    """
    return _TOKEN.findall((text or "").lower())


def normalise(text: str) -> str:
    """The tokens of ``text`` joined by single spaces (what the scorers see)."""
    return " ".join(tokenize(text))


def _check(references: Sequence[str], hypotheses: Sequence[str]) -> None:
    if isinstance(references, str) or isinstance(hypotheses, str):
        raise ValueError("references and hypotheses must be lists of strings, not single strings")
    if len(references) != len(hypotheses):
        raise ValueError(f"{len(references)} references but {len(hypotheses)} hypotheses")
    if not references:
        raise ValueError("no reports to score")


def java_available() -> bool:
    return shutil.which("java") is not None


def meteor_score(references: Sequence[str], hypotheses: Sequence[str]) -> tuple[float, list[float]]:
    """Corpus METEOR and per-pair scores over normalised texts; one Java process for the call.

    Raises ``RuntimeError`` when Java is missing or the METEOR process fails.
    """
    if not java_available():
        raise RuntimeError("Java is not installed (METEOR runs meteor-1.5.jar): install a JRE, e.g. OpenJDK 17")
    from pycocoevalcap.meteor.meteor import Meteor

    refs, hyps = [normalise(r) for r in references], [normalise(h) for h in hypotheses]
    scores = [1.0 if not r and not h else 0.0 for r, h in zip(refs, hyps)]
    keep = [i for i, (r, h) in enumerate(zip(refs, hyps)) if r and h]
    if not keep:
        return float(np.mean(scores)), scores
    try:
        scorer = Meteor()
    except OSError as exc:
        raise RuntimeError(f"cannot start METEOR (java): {exc}") from exc
    try:
        corpus, per = scorer.compute_score({n: [refs[i]] for n, i in enumerate(keep)},
                                           {n: [hyps[i]] for n, i in enumerate(keep)})
    except (ValueError, OSError) as exc:
        err = b""
        try:
            scorer.meteor_p.kill()
            err = scorer.meteor_p.stderr.read() or b""
        except Exception:  # noqa: BLE001 - best effort for the message only
            pass
        detail = err.decode(errors="replace").strip().splitlines()[-1:] or [str(exc)]
        raise RuntimeError(f"METEOR failed: {detail[0]}") from exc
    finally:
        _close_meteor(scorer)
    empty_total = sum(scores)  # the 0/1 scores of pairs with an empty side
    for i, s in zip(keep, per):
        scores[i] = float(s)
    if len(keep) < len(scores):  # empty pairs enter the corpus score weighted by count
        corpus = (corpus * len(keep) + empty_total) / len(scores)
    return float(corpus), scores


def _close_meteor(scorer) -> None:
    """Stop the METEOR process now; a fresh lock lets the wrapper's ``__del__`` finish even when
    ``compute_score`` failed while holding its lock (it would otherwise block forever)."""
    scorer.lock = threading.Lock()
    proc = getattr(scorer, "meteor_p", None)
    if proc is None:
        return
    for step in (lambda: proc.stdin.close(), proc.kill, lambda: proc.wait(timeout=10),
                 lambda: proc.stdout.close(), lambda: proc.stderr.close()):
        try:
            step()
        except Exception:  # noqa: BLE001 - already closed or dead
            pass


def rouge_l(references: Sequence[str], hypotheses: Sequence[str]) -> tuple[float, list[float]]:
    """Mean ROUGE-L F (beta 1.2, pycocoevalcap) and per-pair scores."""
    from pycocoevalcap.rouge.rouge import Rouge

    scorer = Rouge()
    scores = []
    for r, h in zip(references, hypotheses):
        r, h = normalise(r), normalise(h)
        scores.append(float(scorer.calc_score([h], [r])) if r and h else float(not r and not h))
    return float(np.mean(scores)), scores


def nlg_metrics(references: Sequence[str], hypotheses: Sequence[str], meteor: bool = True,
                per_report: bool = False) -> dict:
    """BLEU-1..4, METEOR, ROUGE-L, CIDEr of ``hypotheses`` against ``references`` (same order).

    Returns ``{"BLEU-1": ..., ..., "CIDEr": ..., "n": count}``; ``"warnings"`` (list of str)
    when METEOR was skipped (``meteor=False``, no Java, or a failing jar); ``"per_report"``
    (dict of lists) when asked.
    """
    _check(references, hypotheses)
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider

    gts = {i: [normalise(r)] for i, r in enumerate(references)}
    res = {i: [normalise(h)] for i, h in enumerate(hypotheses)}
    bleu, bleu_per = Bleu(4).compute_score(gts, res, verbose=0)
    cider, cider_per = Cider().compute_score(gts, res)
    rouge, rouge_per = rouge_l(references, hypotheses)
    out: dict = {f"BLEU-{n + 1}": float(bleu[n]) for n in range(4)}
    out.update({"METEOR": None, "ROUGE-L": rouge, "CIDEr": float(cider), "n": len(references)})
    warnings, meteor_per = [], None
    if not meteor:
        warnings.append("METEOR skipped (disabled)")
    else:
        try:
            out["METEOR"], meteor_per = meteor_score(references, hypotheses)
        except RuntimeError as exc:
            logger.warning("METEOR skipped: %s", exc)
            warnings.append(f"METEOR skipped: {exc}")
    if warnings:
        out["warnings"] = warnings
    if per_report:
        out["per_report"] = {**{f"BLEU-{n + 1}": [float(v) for v in bleu_per[n]] for n in range(4)},
                             "METEOR": meteor_per, "ROUGE-L": rouge_per,
                             "CIDEr": [float(v) for v in np.asarray(cider_per).ravel()]}
    return out
