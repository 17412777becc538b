"""Exports: merged LoRA as one plain HF folder, a thinker back inside a full Qwen2.5-Omni folder (logits equal)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    Qwen2_5OmniConfig,
    Qwen2_5OmniForConditionalGeneration,
)

from ervlight.policy import CausalLMPolicy, FinetuneConfig, tiny_qwen2, train_bpe_tokenizer
from ervlight.policy.finetune import wrap_lora
from ervlight.scale.export_cli import main
from scale.omni_full import TALKER, THINKER, TOKEN2WAV


def test_merged_lora_folder_gives_the_lora_models_logits(tmp_path: Path) -> None:
    tokenizer = train_bpe_tokenizer(
        ["<think>The face is sad.</think>\n<answer>sad</answer>"] * 5, vocab_size=200
    )
    torch.manual_seed(0)
    base = tiny_qwen2(tokenizer, hidden_size=32, num_layers=2, intermediate_size=64)
    base.save_pretrained(tmp_path / "base")
    policy = CausalLMPolicy(base, tokenizer, finetune=FinetuneConfig(mode="lora"))
    with torch.no_grad():  # a trained adapter: B is no longer zero
        for name, parameter in policy.named_parameters():
            if "lora_B" in name:
                parameter.normal_(0.0, 0.1)
    policy.save_pretrained(tmp_path / "policy")
    assert (
        main(
            [
                "merged",
                "--policy",
                str(tmp_path / "policy"),
                "--base",
                str(tmp_path / "base"),
                "--out",
                str(tmp_path / "out"),
            ]
        )
        == 0
    )
    merged = AutoModelForCausalLM.from_pretrained(tmp_path / "out").eval()
    assert AutoTokenizer.from_pretrained(tmp_path / "out").get_vocab() == tokenizer.get_vocab()
    assert not any("lora" in key for key in merged.state_dict())
    ids = torch.randint(0, len(tokenizer), (2, 7), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = policy.lm.eval()(input_ids=ids).logits
        torch.testing.assert_close(merged(input_ids=ids).logits, expected, rtol=0, atol=1e-5)


def test_merged_export_of_adapters_without_base_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "policy" / "adapter").mkdir(parents=True)
    (tmp_path / "policy" / "adapter" / "adapter_config.json").write_text("{}")
    assert main(["merged", "--policy", str(tmp_path / "policy"), "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err == (
        f"ervlight export: {tmp_path / 'policy'} holds LoRA adapters: pass the base model folder they were trained on\n"
    )
    assert not (tmp_path / "out").exists()


def test_thinker_export_is_the_original_omni_with_the_trained_thinker(tmp_path: Path) -> None:
    torch.manual_seed(0)
    original = Qwen2_5OmniForConditionalGeneration(
        Qwen2_5OmniConfig(thinker_config=THINKER, talker_config=TALKER, token2wav_config=TOKEN2WAV)
    )
    original.save_pretrained(tmp_path / "original")
    torch.save({"Chelsie": {"bos_token": 1}}, tmp_path / "original" / "spk_dict.pt")
    thinker = original.thinker
    with torch.no_grad():  # "training" moved every thinker weight
        for parameter in thinker.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.01)
    thinker.save_pretrained(tmp_path / "policy" / "lm")  # QwenOmniThinker.save_pretrained's lm/ folder
    assert (
        main(
            [
                "omni",
                "--policy",
                str(tmp_path / "policy"),
                "--original",
                str(tmp_path / "original"),
                "--out",
                str(tmp_path / "out"),
            ]
        )
        == 0
    )
    loaded = Qwen2_5OmniForConditionalGeneration.from_pretrained(tmp_path / "out").eval()
    fresh = Qwen2_5OmniForConditionalGeneration.from_pretrained(tmp_path / "original")
    for key, value in fresh.state_dict().items():
        if not key.startswith("thinker."):
            assert torch.equal(loaded.state_dict()[key], value), key
    ids = torch.randint(10, 300, (2, 9), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        assert torch.equal(loaded.thinker(input_ids=ids).logits, thinker.eval()(input_ids=ids).logits)
        assert not torch.equal(fresh.thinker(input_ids=ids).logits, loaded.thinker(input_ids=ids).logits)
    assert loaded.speaker_map == {"Chelsie": {"bos_token": 1}}


def test_thinker_lora_export_merges_into_the_originals_thinker(tmp_path: Path) -> None:
    torch.manual_seed(0)
    original = Qwen2_5OmniForConditionalGeneration(
        Qwen2_5OmniConfig(thinker_config=THINKER, talker_config=TALKER, token2wav_config=TOKEN2WAV)
    )
    original.save_pretrained(tmp_path / "original")
    torch.save({"Chelsie": {"bos_token": 1}}, tmp_path / "original" / "spk_dict.pt")
    wrapped = wrap_lora(original.thinker, FinetuneConfig(mode="lora"))
    with torch.no_grad():  # a trained adapter: B is no longer zero
        for name, parameter in wrapped.named_parameters():
            if "lora_B" in name:
                parameter.normal_(0.0, 0.1)
    wrapped.save_pretrained(
        str(tmp_path / "policy" / "adapter")
    )  # QwenOmniThinker.save_pretrained's adapter/
    argv = ["omni", "--policy", str(tmp_path / "policy"), "--original", str(tmp_path / "original")]
    assert main([*argv, "--out", str(tmp_path / "out")]) == 0
    loaded = Qwen2_5OmniForConditionalGeneration.from_pretrained(tmp_path / "out").eval()
    assert not any("lora" in key for key in loaded.state_dict())
    ids = torch.randint(10, 300, (2, 9), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        expected = wrapped.eval()(input_ids=ids).logits
        torch.testing.assert_close(loaded.thinker(input_ids=ids).logits, expected, rtol=0, atol=1e-5)
