"""Why does (or doesn't) stage 1 help? Diagnostics for the report-only vs two-stage ablation.

For each model folder given, on a CT-RATE-layout dataset:
- linear probe: logistic regression per CT-RATE label on frozen visual features (mean patch
  feature and structure tokens), trained on the train split, AUC on valid+test;
- retrieval R@1/R@5 of the stage-1 projections on train and on test (structure-wise cosine);
- collapse: mean cosine between different studies' projected image features and text features
  (per structure, test split), the attention entropy over patches as a share of uniform, and how
  many queue entries lie near any current text feature (a stale queue holds none);
plus model-free baselines of clinical efficacy on the test split: the most common training
report, and a random training report (mean over 20 draws).

Usage: python scripts/ablation_diagnostics.py --data DIR --out diag.json MODEL [MODEL ...]
(MODEL: a zoo name, a model folder, "random:demo" for a randomly initialised demo model, or
"raw:demo" for no model: the demo config's model input average-pooled to 12x16x16 plus an HU
histogram, the probe's upper reference of what simple intensity features carry).
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np
import torch


def encode_split(model, studies, records):
    """(mean patch features (n, d), flattened structure tokens (n, N*d), image proj (n, N, p))."""
    import torch.nn.functional as F

    pooled, tokens, proj, entropy = [], [], [], []
    with torch.no_grad():
        for r in records:
            x = torch.from_numpy(studies.volume_array(r))[None, None]
            v = model.encode(x)
            a = v.attention[0].clamp_min(1e-12)
            entropy.append(float((-(a * a.log()).sum(-1) / np.log(a.shape[-1])).mean()))
            pooled.append(v.patch_features.mean(1)[0].numpy())
            tokens.append(v.structure_tokens[0].flatten().numpy())
            proj.append(F.normalize(model.image_proj(v.structure_tokens), dim=-1)[0].numpy())
    encode_split.last_entropy = float(np.mean(entropy))
    return np.stack(pooled), np.stack(tokens), np.stack(proj)


def collapse(model, image, text, entropy):
    """Mean off-diagonal cosine between studies (image, text; averaged over structures), attention
    entropy / log(P), and the share of queue entries within cosine 0.9 of some current text."""
    def mean_offdiag(x):
        sims = np.einsum("ind,jnd->nij", x, x)
        n = x.shape[0]
        return float(((sims.sum((1, 2)) - n) / (n * n - n)).mean())

    queue = model.queue.features.float().numpy()
    near = [(np.einsum("qd,sd->qs", queue[n], text[:, n]).max(1) > 0.9).mean() for n in range(text.shape[1])]
    return {"image_cos": mean_offdiag(image), "text_cos": mean_offdiag(text), "attention_entropy": entropy,
            "queue_near_current": float(np.mean(near))}


def raw_features(studies, records):
    """Model input (scaled HU) average-pooled to 12x16x16, and a 32-bin histogram of it."""
    out = []
    for r in records:
        x = torch.from_numpy(studies.volume_array(r))[None, None]
        pooled = torch.nn.functional.adaptive_avg_pool3d(x, (12, 16, 16)).flatten().numpy()
        hist = np.histogram(x.numpy(), bins=32, range=(float(x.min()), float(x.max()) + 1e-6))[0] / x.numel()
        out.append(np.concatenate([pooled, hist]))
    return np.stack(out)


def probe_auc(train_x, train_y, test_x, test_y):
    """Mean AUC over labels with >= 5 positives in train and both classes in test."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(train_x)
    a, b = scaler.transform(train_x), scaler.transform(test_x)
    aucs = {}
    for j in range(train_y.shape[1]):
        if train_y[:, j].sum() < 5 or len(set(test_y[:, j])) < 2:
            continue
        clf = LogisticRegression(C=0.1, max_iter=2000).fit(a, train_y[:, j])
        aucs[j] = float(roc_auc_score(test_y[:, j], clf.predict_proba(b)[:, 1]))
    return aucs


def recall(image, text, ks=(1, 5)):
    """Report-to-volume recall: similarity = mean over structures of cosine(image_n, text_n)."""
    sim = np.einsum("ind,jnd->ij", text, image) / image.shape[1]
    ranks = np.array([(sim[i] > sim[i, i]).sum() for i in range(len(sim))])
    return {f"R@{k}": float((ranks < k).mean()) for k in ks}


def baselines(train_reports, test_labels):
    """CE of the model-free baselines (:mod:`ctrg_desktop.evaluation.baselines`, as ``ctrg evaluate``)."""
    from ctrg_desktop.evaluation.baselines import report_baselines

    found = report_baselines(train_reports, test_labels)
    return {"most_common_report": found["most_common_report"]["clinical_efficacy"],
            "random_train_report_f1": found["random_train_report"]["clinical_efficacy"]["f1"]}


def main(argv=None) -> int:
    from ctrg_desktop.data.ctrate import CTRateDataset
    from ctrg_desktop.data.labels import CT_RATE_LABELS
    from ctrg_desktop.model.config import ModelConfig
    from ctrg_desktop.model.report_model import StructureReportModel
    from ctrg_desktop.model.zoo import load_model
    from ctrg_desktop.training.dataset import StudyDataset

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+")
    parser.add_argument("--data", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    torch.set_num_threads(1)
    splits = {s: list(CTRateDataset(args.data, split=s, missing="skip").records) for s in ("train", "valid", "test")}
    labels = {s: np.array([[r.labels[k] for k in CT_RATE_LABELS] for r in recs]) for s, recs in splits.items()}
    result = {"labels": list(CT_RATE_LABELS), "n": {s: len(r) for s, r in splits.items()}, "models": {}}
    result["baselines"] = baselines([r.findings for r in splits["train"]], labels["test"])
    print(json.dumps(result["baselines"]), flush=True)
    for name in args.models:
        if name.startswith("raw:"):
            config = getattr(ModelConfig, name.split(":", 1)[1])()
            x = {s: raw_features(StudyDataset(recs, config, cache_dir=None), recs) for s, recs in splits.items()}
            aucs = probe_auc(x["train"], labels["train"], np.concatenate([x["valid"], x["test"]]),
                             np.concatenate([labels["valid"], labels["test"]]))
            result["models"][name] = {"probe_auc_raw": {"mean": float(np.mean(list(aucs.values()))),
                                      "per_label": {CT_RATE_LABELS[j]: round(v, 3) for j, v in aucs.items()}}}
            print(name, result["models"][name]["probe_auc_raw"]["mean"], flush=True)
            continue
        if name.startswith("random:"):
            model = StructureReportModel(getattr(ModelConfig, name.split(":", 1)[1])())
        else:
            model = load_model(name, device="cpu")
        model.eval()
        feats, texts, entropy = {}, {}, {}
        for split, recs in splits.items():
            studies = StudyDataset(recs, model.config, cache_dir=None)
            feats[split] = encode_split(model, studies, recs)
            entropy[split] = encode_split.last_entropy
            with torch.no_grad():
                tt = [studies.texts(r)[0] for r in recs]
                texts[split] = model.text_features({"structure_texts": tt}).numpy()
        held_y = np.concatenate([labels["valid"], labels["test"]])
        entry = {}
        for i, kind in enumerate(("mean_patch", "structure_tokens")):
            held_x = np.concatenate([feats["valid"][i], feats["test"][i]])
            aucs = probe_auc(feats["train"][i], labels["train"], held_x, held_y)
            entry[f"probe_auc_{kind}"] = {"mean": float(np.mean(list(aucs.values()))),
                                          "per_label": {CT_RATE_LABELS[j]: round(v, 3) for j, v in aucs.items()}}
        entry["retrieval_train60"] = recall(feats["train"][2][:60], texts["train"][:60])
        entry["retrieval_test"] = recall(feats["test"][2], texts["test"])
        entry["collapse_test"] = collapse(model, feats["test"][2], texts["test"], entropy["test"])
        result["models"][name] = entry
        print(name, json.dumps({k: (v["mean"] if isinstance(v, dict) and "mean" in v else v) for k, v in entry.items()}),
              flush=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
