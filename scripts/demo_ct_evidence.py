"""Where a model looks on the real demo CT: share of each structure's top-K patches inside the body.

A patch is inside when more than half of its voxels on the model grid are above -500 HU (the
rule of ``ctrg evaluate`` for studies without a label map); the padding around a real study and
the air outside the patient are outside. Also prints the attention entropy (share of uniform)
and the observation heads' probabilities.

Usage: python scripts/demo_ct_evidence.py [--model demo] [--out evidence.json]
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np
import torch


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="demo")
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    from ctrg_desktop.data.demo import ensure_demo_study
    from ctrg_desktop.data.labels import CT_RATE_LABELS
    from ctrg_desktop.evaluation.grounding import in_body_share
    from ctrg_desktop.imaging.coverage import body_fractions, input_body_mask
    from ctrg_desktop.evaluation.runner import load_model, load_structure_set_of
    from ctrg_desktop.inference import model_input
    from ctrg_desktop.io.readers import read_study

    model = load_model(args.model).eval()
    study = read_study(ensure_demo_study().nifti)
    prepared = model_input(study, model.config)
    enc = model.config.encoder
    with torch.no_grad():
        visual = model.encode(torch.from_numpy(prepared.input)[None, None])
    body = body_fractions(input_body_mask(prepared.input, enc.hu_window), enc.grid)
    names = load_structure_set_of(model.config).names
    share = in_body_share(visual.topk_indices.numpy(), body[None], names, ["hu"])
    attention = visual.attention[0].clamp_min(1e-12)
    entropy = float((-(attention * attention.log()).sum(-1) / np.log(attention.shape[-1])).mean())
    probs = visual.observation_probabilities()
    result = {"model": args.model, "in_body": share, "attention_entropy_share": entropy,
              "observations": None if probs is None else dict(zip(CT_RATE_LABELS, probs[0].tolist()))}
    text = json.dumps(result, indent=2)
    if args.out:
        open(args.out, "w").write(text + "\n")
    print(text)
    worst = min(v for v in share["per_structure"].values() if v is not None)
    print(f"in-body share of top-K patches: mean {share['share']:.3f}, worst structure {worst:.3f} "
          f"(target >= 0.9 each); attention entropy {entropy:.3f} of uniform", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
