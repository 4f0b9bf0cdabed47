"""End-to-end evaluation: the tiny model on four small synthetic studies, and the CLI parser."""

import argparse
import json
import shutil

import pytest
import torch

from ctrg_desktop.errors import CtrgError
from ctrg_desktop.evaluation.nlg import NLG_KEYS
from ctrg_desktop.evaluation.runner import (add_evaluate_parser, evaluate_model, resolve_model_folder,
                                            summary_line, write_metrics)
from ctrg_desktop.reports.cleanup import clean_text

# The tiny model reads 16x32x32 voxels at 6/5/5 mm; the studies are drawn at 48x64x64 on that spacing
# and centre-cropped by the preprocessing, which also exercises the crop in the grounding map.
PHANTOM_SHAPE, PHANTOM_SPACING = (48, 64, 64), (6.0, 5.0, 5.0)
GENERATION = {"num_beams": 1, "max_length": 16}


@pytest.fixture(scope="module")
def phantom_root(tmp_path_factory):
    from ctrg_desktop.data.phantoms import PhantomConfig, generate_dataset

    out = tmp_path_factory.mktemp("phantoms")
    return generate_dataset(out, count=4, seed=11, config=PhantomConfig(PHANTOM_SHAPE, PHANTOM_SPACING),
                            split=(0.0, 0.0, 1.0), workers=1)


@pytest.fixture(scope="module")
def tiny_model():
    from ctrg_desktop.model import build_model

    torch.manual_seed(0)
    return build_model("tiny")


@pytest.mark.slow
def test_evaluate_model_end_to_end(phantom_root, tiny_model, tmp_path):
    result = evaluate_model(tiny_model, phantom_root, split="test", batch_size=3, device="cpu", **GENERATION)
    assert set(result) == {"meta", "nlg", "clinical_efficacy", "retrieval", "grounding", "diversity", "reports",
                           "baselines", "observations", "in_body", "guide", "similar_cases"}
    assert result["similar_cases"]["mode"] == "off"
    assert result["guide"] == {"applied": False, "labels": []}  # no observation guide
    meta = result["meta"]
    assert meta["n_studies"] == 4 and meta["split"] == "test" and meta["generation"] == GENERATION
    assert len(meta["structures"]) == 10 and len(meta["labels"]) == 18
    nlg = result["nlg"]
    assert all(nlg[k] is not None for k in NLG_KEYS) and "warnings" not in nlg and 0 <= nlg["METEOR"] <= 1
    ce = result["clinical_efficacy"]
    assert ce["reference_source"] == "dataset" and set(ce["micro"]) == {"precision", "recall", "f1"}
    assert len(ce["per_label"]) == 18 and ce["n_reports"] == 4
    ret = result["retrieval"]
    assert {"recall@10", "recall@50", "recall@100"} <= set(ret) and ret["n_volumes"] == 4
    assert ret["effective_k"]["recall@10"] == 4 and ret["recall@10"] == 1.0
    gr = result["grounding"]
    assert gr["n_studies"] == 4 and gr["k"] == 4 and "others" not in gr["per_structure"]
    assert gr["per_structure"]["lung"] is not None and 0.0 <= gr["mean"] <= 1.0
    assert gr["chance_per_structure"]["lung"] > 0.1                       # the lungs fill much of the grid
    for side in ("generated", "reference"):
        d = result["diversity"][side]
        assert d["n_reports"] == 4 and 0 < d["distinct_reports"] <= 1
    assert result["diversity"]["reference"]["distinct_reports"] == 1.0
    reports = result["reports"]
    assert len(reports) == 4 and set(reports[0]) == {"name", "generated", "generated_raw", "reference",
                                                     "generated_labels", "reference_labels"}
    assert all(r["reference"] for r in reports)
    assert "BLEU-4" in summary_line(result)
    # no train split here: no baselines, said so; no observation heads; top-K patches judged by label maps
    assert "no training report" in result["baselines"]["note"] and "no baselines" in summary_line(result)
    assert result["observations"]["mean"] is None and "no observation heads" in result["observations"]["note"]
    body = result["in_body"]
    assert body["methods"] == {"label_map": 4} and 0.0 <= body["share"] <= 1.0 and body["chance"] > 0.3
    assert all(r["generated"] == clean_text(r["generated_raw"]) for r in reports)   # scored as users see it
    path = write_metrics(result, tmp_path / "sub" / "metrics.json")
    loaded = json.loads(path.read_text())
    assert set(loaded) == set(result) and loaded["retrieval"]["recall@10"] == 1.0


def test_cli_from_a_folder_without_label_maps(phantom_root, tiny_model, tmp_path, capsys):
    data = tmp_path / "data"
    shutil.copytree(phantom_root, data)
    shutil.rmtree(data / "segmentations")
    folder = tmp_path / "model"
    tiny_model.save_pretrained(folder)
    parser = argparse.ArgumentParser(prog="ctrg")
    add_evaluate_parser(parser.add_subparsers(dest="command", required=True))
    out = tmp_path / "metrics.json"
    args = parser.parse_args(["evaluate", "--model", str(folder), "--data", str(data), "--out", str(out),
                              "--limit", "2", "--no-meteor", "--num-beams", "1", "--max-length", "12",
                              "--device", "cpu", "--reference-labels", "labeller", "--quiet"])
    assert args.func(args) == 0
    result = json.loads(out.read_text())
    assert result["meta"]["n_studies"] == 2 and result["meta"]["generation"] == {"num_beams": 1, "max_length": 12}
    assert result["nlg"]["METEOR"] is None and result["nlg"]["warnings"] == ["METEOR skipped (disabled)"]
    assert result["clinical_efficacy"]["reference_source"] == "labeller"
    assert result["grounding"]["mean"] is None and "label map" in result["grounding"]["note"]
    assert result["retrieval"]["effective_k"]["recall@100"] == 2
    printed = capsys.readouterr()
    assert "wrote" in printed.out and "METEOR skipped" in printed.err


def test_model_names_resolve_in_the_zoo(tmp_path, monkeypatch):
    zoo = tmp_path / "zoo"
    (zoo / "mine").mkdir(parents=True)
    (zoo / "mine" / "config.json").write_text("{}")
    monkeypatch.setenv("CTRG_MODEL_ZOO", str(zoo))
    assert resolve_model_folder("mine") == zoo / "mine"
    with pytest.raises(CtrgError, match="no model 'nope'.*has: mine") as err:
        resolve_model_folder("nope")
    assert "\n" not in str(err.value)
    (tmp_path / "empty").mkdir()
    with pytest.raises(CtrgError, match="no config.json"):
        resolve_model_folder(tmp_path / "empty")


def test_bad_arguments(phantom_root, tiny_model):
    with pytest.raises(ValueError, match="reference_labels"):
        evaluate_model(tiny_model, phantom_root, reference_labels="radbert")
    with pytest.raises(ValueError, match="no studies"):
        evaluate_model(tiny_model, phantom_root, split="train", device="cpu")
    with pytest.raises(ValueError, match="not a folder"):
        evaluate_model(tiny_model, phantom_root / "nope", device="cpu")


def test_training_mode_is_restored(phantom_root, tiny_model):
    tiny_model.train()
    evaluate_model(tiny_model, phantom_root, limit=1, device="cpu", meteor=False, include_reports=False,
                   **GENERATION)
    assert tiny_model.training
    tiny_model.eval()


@pytest.fixture(scope="module")
def mixed_root(tmp_path_factory):
    """Four studies: two train, two test (a fresh set scored with --split all)."""
    from ctrg_desktop.data.phantoms import PhantomConfig, generate_dataset

    out = tmp_path_factory.mktemp("mixed")
    return generate_dataset(out, count=4, seed=5, config=PhantomConfig(PHANTOM_SHAPE, PHANTOM_SPACING),
                            split=(0.5, 0.0, 0.5), workers=1)


@pytest.fixture(scope="module")
def observing_model():
    from ctrg_desktop.model import ModelConfig, StructureReportModel, load_tokenizer
    from ctrg_desktop.model.config import ObservationConfig

    torch.manual_seed(0)
    config = ModelConfig.tiny()
    config.observation = ObservationConfig(enabled=True, hidden=16)
    return StructureReportModel(config, tokenizer=load_tokenizer("minilm"))


def test_split_all_with_baselines_and_observation_heads(mixed_root, observing_model, tmp_path, capsys):
    folder = tmp_path / "model"
    observing_model.save_pretrained(folder)
    parser = argparse.ArgumentParser(prog="ctrg")
    add_evaluate_parser(parser.add_subparsers(dest="command", required=True))
    out = tmp_path / "metrics.json"
    args = parser.parse_args(["evaluate", "--model", str(folder), "--data", str(mixed_root), "--split", "all",
                              "--out", str(out), "--no-meteor", "--num-beams", "1", "--max-length", "12",
                              "--device", "cpu", "--baseline-draws", "5", "--quiet"])
    assert args.func(args) == 0
    result = json.loads(out.read_text())
    assert result["meta"]["split"] == "all" and result["meta"]["n_studies"] == 4
    base = result["baselines"]
    assert base["n_train_reports"] == 2 and base["train_reports"]["overlaps_scored_studies"] is True
    assert set(base["most_common_report"]["clinical_efficacy"]) == {"precision", "recall", "f1"}
    assert base["random_train_report"]["draws"] == 5
    assert set(base["random_train_report"]["nlg"]["BLEU-4"]) == {"mean", "std"}
    obs = result["observations"]
    assert set(obs["per_label"]) == set(result["meta"]["labels"]) and obs["n_studies"] == 4
    valid = [v for v in obs["per_label"].values() if v is not None]
    assert obs["n_labels"] == len(valid) and all(0.0 <= v <= 1.0 for v in valid)
    assert (obs["mean"] is None) == (not valid)
    assert result["in_body"]["n_studies"] == 4 and result["in_body"]["methods"] == {"label_map": 4}
    assert result["grounding"]["n_studies"] == 4 and result["grounding"]["mean"] is not None
    printed = capsys.readouterr().out
    assert "most common training report CE F1" in printed and "random training report (5 draws)" in printed
    assert "observation AUROC" in printed and "top-K in body" in printed and "grounding" in printed


def test_in_body_falls_back_to_hu_without_label_maps(mixed_root, tiny_model, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(mixed_root, data)
    shutil.rmtree(data / "segmentations")
    result = evaluate_model(tiny_model, data, split="test", device="cpu", meteor=False, include_reports=False,
                            baseline_draws=2, **GENERATION)
    assert result["in_body"]["methods"] == {"hu": 2} and result["in_body"]["chance"] > 0.3
    assert result["baselines"]["train_reports"]["overlaps_scored_studies"] is False
    with pytest.raises(ValueError, match="unknown split"):
        evaluate_model(tiny_model, data, split="everything", device="cpu")


@pytest.mark.slow
def test_evaluate_with_the_prior_case_fused_into_the_decoder(phantom_root, tmp_path):
    """--retrieval: a fusion model drafts each study with a reference of another patient chosen by
    the mode; the oracle's references are no farther in labels than random ones; "off" drafts
    without any, and the fused drafts differ from those."""
    import dataclasses

    from ctrg_desktop.model.config import FusionConfig, ModelConfig, ObservationConfig
    from ctrg_desktop.model.report_model import StructureReportModel
    from ctrg_desktop.retrieval.build import model_id, split_features
    from ctrg_desktop.retrieval.index import ReferenceIndex
    from ctrg_desktop.retrieval.retriever import RetrieverConfig, train_retriever
    from ctrg_desktop.retrieval.status import one_hot

    torch.manual_seed(0)
    config = dataclasses.replace(ModelConfig.tiny(), observation=ObservationConfig(enabled=True),
                                 fusion=FusionConfig(enabled=True, global_prompts=False))
    model = StructureReportModel(config).eval()
    torch.nn.init.normal_(model.fusion.out.weight, std=3.0)  # a fusion that changes what the decoder reads
    for name, weight in model.decoder.named_parameters():     # and a decoder that follows what it reads
        if "crossattention" in name and weight.ndim == 2:
            torch.nn.init.normal_(weight, std=1.0)
    feats = split_features(model, phantom_root, "test", allow_test=True)
    projection, _ = train_retriever(feats["logits"], one_hot(feats["statuses"]), feats["patients"],
                                    RetrieverConfig(hidden=8, dim=4, steps=5, batch=4, eval_every=0))
    index = ReferenceIndex(projection, model_id(model), feats["names"], feats["patients"], ["train"] * 4,
                           feats["reports"], feats["logits"], feats["statuses"], feats["thumbnails"])
    path = index.save(tmp_path / "index.npz")
    kwargs = dict(split="test", batch_size=3, device="cpu", meteor=False, baseline_draws=2, **GENERATION)
    plain = evaluate_model(model, phantom_root, **kwargs)
    for mode in ("oracle", "index", "random", "probabilities"):
        result = evaluate_model(model, phantom_root, retrieval=mode, retrieval_index=path, **kwargs)
        cases = result["similar_cases"]
        assert cases["mode"] == mode and cases["references"] == 4 and len(cases["chosen"]) == 4
        names = [r["name"] for r in result["reports"]]
        assert all(chosen.split("_")[:2] != name.split("_")[:2] for chosen, name in zip(cases["chosen"], names))
        assert cases["copy_rate"] is None or 0.0 <= cases["copy_rate"] <= 1.0  # None: drafts without a sentence
        assert cases["random_hamming"][0] >= 0
        if mode == "oracle":
            assert cases["neighbour_hamming"] <= cases["random_hamming"][0] + 1e-9
            assert [r["generated_raw"] for r in result["reports"]] != [r["generated_raw"] for r in plain["reports"]]
        assert "prior case (" + mode + ")" in summary_line(result)
    with pytest.raises(ValueError, match="reference index"):
        evaluate_model(model, phantom_root, retrieval="index", **kwargs)
