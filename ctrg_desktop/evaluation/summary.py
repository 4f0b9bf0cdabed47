"""What ``ctrg evaluate`` writes and prints: the metrics JSON, one summary line and the baselines'
line, and a study counter on stderr (also for ``ctrg calibrate`` and ``ctrg retrieval``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ctrg_desktop.atomic import atomic_write_text
from ctrg_desktop.jsonable import jsonable


def write_metrics(result: dict, path) -> Path:
    """Write ``result`` as indented JSON (NaN/inf as null, numpy scalars as numbers), atomically; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(jsonable(result), indent=2) + "\n")
    return path


def _f(v) -> str:
    return "n/a" if v is None else f"{v:.3f}"


def baseline_line(result: dict) -> str:
    """The model's CE F1 / BLEU-4 / ROUGE-L beside the model-free baselines' (one line)."""
    ce, nlg, base = result["clinical_efficacy"]["micro"], result["nlg"], result.get("baselines") or {}
    parts = [f"model CE F1 {_f(ce['f1'])} BLEU-4 {_f(nlg['BLEU-4'])} ROUGE-L {_f(nlg['ROUGE-L'])}"]
    common, rand = base.get("most_common_report"), base.get("random_train_report")
    if common:
        text = common.get("nlg", {})
        parts.append(f"most common training report CE F1 {_f(common['clinical_efficacy']['f1'])} "
                     f"BLEU-4 {_f(text.get('BLEU-4'))} ROUGE-L {_f(text.get('ROUGE-L'))}")
    if rand:
        def ms(part, key):
            v = rand.get(part, {}).get(key)
            return "n/a" if v is None else f"{v['mean']:.3f}+-{v['std']:.3f}"

        parts.append(f"random training report ({rand['draws']} draws) CE F1 {ms('clinical_efficacy', 'f1')} "
                     f"BLEU-4 {ms('nlg', 'BLEU-4')} ROUGE-L {ms('nlg', 'ROUGE-L')}")
    if not common and not rand:
        parts.append(base.get("note", "no baselines"))
    return " vs ".join(parts)


def summary_line(result: dict) -> str:
    """One human line: the headline numbers, then the model against the baselines."""
    nlg, ce, ret, gr = result["nlg"], result["clinical_efficacy"]["micro"], result["retrieval"], result["grounding"]
    f = _f
    recalls = " ".join(f"R@{k.split('@')[1]} {f(v)}" for k, v in ret.items() if k.startswith("recall@"))
    obs, body = result.get("observations") or {}, result.get("in_body") or {}
    line = (f"{result['meta']['n_studies']} studies | BLEU-1 {f(nlg['BLEU-1'])} BLEU-4 {f(nlg['BLEU-4'])} "
            f"METEOR {f(nlg['METEOR'])} ROUGE-L {f(nlg['ROUGE-L'])} CIDEr {f(nlg['CIDEr'])} | "
            f"CE P/R/F1 {f(ce['precision'])}/{f(ce['recall'])}/{f(ce['f1'])} | {recalls} | "
            f"grounding {f(gr.get('mean'))} (chance {f(gr.get('chance_mean'))}; "
            f"where attainable {f(gr.get('attainable_mean'))}) | "
            f"top-K in body {f(body.get('share'))} (chance {f(body.get('chance'))}) | "
            f"observation AUROC {f(obs.get('mean'))} | distinct reports "
            f"{f(result['diversity']['generated']['distinct_reports'])}")
    guide = result.get("guide") or {}
    if guide.get("applied"):
        without = guide["clinical_efficacy_without"]
        line += (f" | observation guide on {len(guide['labels'])} labels, {guide['reports_changed']} reports changed; "
                 f"without it CE F1 {f(without['micro']['f1'])} macro {f(without['macro']['f1'])}")
    similar = result.get("similar_cases") or {}
    if similar.get("rare_label_f1"):
        line += f" | CE F1 on rare labels {f(similar['rare_label_f1']['micro_f1'])}"
    if similar.get("mode", "off") != "off":
        rand = similar["random_hamming"]
        line += (f" | prior case ({similar['mode']}): Hamming {f(similar['neighbour_hamming'])} (random report "
                 f"{f(rand[0])}), copy rate {f(similar['copy_rate'])}")
    return line + "\n" + baseline_line(result) if "baselines" in result else line


def study_progress(quiet: bool):
    """A ``progress(done, total)`` that counts studies on stderr (nothing when ``quiet``)."""
    def progress(done: int, total: int) -> None:
        if not quiet:
            print(f"\r{done}/{total} studies", end="" if done < total else "\n", file=sys.stderr)

    return progress
