import pytest
import torch

from ctrg_desktop.model import ModelConfig, ReportDecoder, join_structure_texts


def test_join_structure_texts():
    assert join_structure_texts([" Heart normal. ", "", "Lungs clear."]) == "Heart normal. Lungs clear."


def test_tokenize_masks_padding(tokenizer):
    decoder = ReportDecoder(ModelConfig.tiny().decoder, visual_dim=8, tokenizer=tokenizer)
    tokens = decoder.tokenize(["Heart normal.", "No pleural effusion was observed."])
    assert tokens["input_ids"][:, 0].tolist() == [tokenizer.cls_token_id] * 2
    assert (tokens["labels"][0] == -100).sum() == (tokens["attention_mask"][0] == 0).sum() > 0


def test_vocab_must_match_the_tokenizer(tokenizer):
    config = ModelConfig.tiny().decoder
    config.vocab_size = 100
    with pytest.raises(ValueError, match="vocab_size"):
        ReportDecoder(config, visual_dim=8, tokenizer=tokenizer)


def test_decoder_memorises_two_reports(make_model, volumes):
    model = make_model().freeze_for_stage2()
    reports = ["heart size increased.", "no pleural effusion."]
    batch = {"volume": volumes, "reports": reports}
    optimiser = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    losses = []
    for _ in range(30):
        loss = model.report_loss(batch)["loss"]
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert losses[-1] < 0.2 * losses[0]
    model.eval()
    assert model.generate(volumes, num_beams=1, max_length=12) == reports
    assert model.generate(volumes, num_beams=3, max_length=12, no_repeat_ngram_size=3) == reports


def test_generation_respects_min_and_max_length(make_model, volumes, tokenizer):
    from ctrg_desktop.model.bert_lm import generate

    model = make_model().eval()
    decoder = model.decoder
    visual = decoder.visual_proj(model.encode(volumes).decoder_tokens())
    for beams in (1, 2):
        ids = generate(decoder.lm, visual, bos=tokenizer.cls_token_id, eos=tokenizer.sep_token_id,
                       pad=tokenizer.pad_token_id, max_length=8, num_beams=beams, min_length=6)
        assert ids.shape[1] <= 8                                    # [CLS] + at most 7 tokens
        for row in ids.tolist():
            end = row.index(tokenizer.sep_token_id) if tokenizer.sep_token_id in row else len(row)
            assert end >= 6                                         # no [SEP] before min_length
    assert len(model.generate(volumes, num_beams=2, min_length=6, max_length=8)) == 2
    with pytest.raises(ValueError, match="positions"):
        decoder.generate(visual, max_length=10_000)
    with pytest.raises(TypeError, match="unknown generation settings"):
        decoder.generate(visual, max_length=8, top_p=0.9)
