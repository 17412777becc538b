"""``max_prompt_length``: text prompt ids cut from the left (media never counted), one warning, kept when saved."""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml
from lightning_utilities.core.rank_zero import rank_zero_only
from transformers import PreTrainedTokenizerFast

from ervlight.cli import main
from ervlight.policy import CausalLMPolicy, SamplingConfig, tiny_qwen2
from ervlight.policy.backbones.qwen_omni import QwenOmniThinker
from ervlight.policy.backbones.tiny_omni import TinyOmni
from ervlight.policy.decoder import truncate_prompt_ids
from policy.media import synthetic_batch
from policy.test_qwen_omni import omni_folder  # noqa: F401  (the tiny Qwen2.5-Omni folder fixture)
from tiny_models import tiny_omni_kwargs

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "grpo"
PROMPTS = ["Describe a smiling face and a crying face.", "sad", "He laughs loudly and smiles at his friend."]


def _warning(cap: int, cut: int, total: int, longest: int) -> str:
    return (
        f"max_prompt_length={cap}: {cut} of {total} prompts had more text tokens (longest {longest}) and were "
        f"cut from the left to their last {cap}; media tokens are not counted. This warning is shown once."
    )


def test_truncate_keeps_the_last_counted_tokens_left_padded() -> None:
    ids = torch.tensor([[1, 2, 3, 4, 5], [0, 0, 0, 7, 8], [0, 6, 7, 8, 9]])
    mask = (ids != 0).long()
    new_ids, new_mask, cut = truncate_prompt_ids(ids, mask, 3, pad_token_id=0)
    assert new_ids.tolist() == [[3, 4, 5], [0, 7, 8], [7, 8, 9]]
    assert new_mask.tolist() == [[1, 1, 1], [0, 1, 1], [1, 1, 1]]
    assert cut.tolist() == [True, False, True]


def test_truncate_never_counts_nor_cuts_uncounted_tokens() -> None:
    ids = torch.tensor([[1, 9, 2, 3, 9, 4], [0, 0, 9, 9, 5, 6]])  # 9: a media placeholder
    new_ids, new_mask, cut = truncate_prompt_ids(
        ids, (ids != 0).long(), 2, pad_token_id=0, uncounted=ids == 9
    )
    assert new_ids.tolist() == [[9, 3, 9, 4], [9, 9, 5, 6]]
    assert new_mask.tolist() == [[1, 1, 1, 1], [1, 1, 1, 1]]
    assert cut.tolist() == [True, False]


def test_causal_lm_prompts_cut_from_the_left_with_one_warning(tokenizer: PreTrainedTokenizerFast) -> None:
    torch.manual_seed(0)
    model = tiny_qwen2(tokenizer, hidden_size=32, intermediate_size=64)
    policy = CausalLMPolicy(model, tokenizer, chat_template="{instruction}", max_prompt_length=6).eval()
    full = [tokenizer(text, add_special_tokens=False)["input_ids"] for text in PROMPTS]
    assert [len(row) > 6 for row in full] == [True, False, True]
    message = _warning(6, 2, 3, max(len(row) for row in full))
    with pytest.warns(UserWarning, match=re.escape(message)) as caught:
        ids, mask = policy.tokenize_prompts(policy.format_prompts(PROMPTS, 3))
    assert [str(w.message) for w in caught] == [message]
    pad = policy.pad_token_id
    assert ids.tolist() == [full[0][-6:], [pad] * (6 - len(full[1])) + full[1], full[2][-6:]]
    assert mask.sum(-1).tolist() == [6, len(full[1]), 6]
    with warnings.catch_warnings(record=True) as later:
        warnings.simplefilter("always")
        context = policy.encode(PROMPTS)
    assert later == []  # warned once per policy
    assert context.embeds.shape == (3, 6, 32)
    out = policy.generate(context, 2, SamplingConfig(max_new_tokens=3), torch.Generator().manual_seed(0))
    assert out.completion_ids.shape[0] == 6


def test_no_cap_and_other_ranks(tokenizer: PreTrainedTokenizerFast, monkeypatch: pytest.MonkeyPatch) -> None:
    model = tiny_qwen2(tokenizer, hidden_size=32, intermediate_size=64)
    uncapped = CausalLMPolicy(model, tokenizer, chat_template="{instruction}")
    assert uncapped.max_prompt_length is None
    ids, _ = uncapped.tokenize_prompts(PROMPTS)
    assert ids.shape[1] == max(len(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in PROMPTS)
    monkeypatch.setattr(rank_zero_only, "rank", 1)
    capped = CausalLMPolicy(model, tokenizer, chat_template="{instruction}", max_prompt_length=6)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ids, _ = capped.tokenize_prompts(PROMPTS)
    assert caught == []  # only rank zero warns
    assert ids.shape[1] == 6
    with pytest.raises(ValueError, match="max_prompt_length must be >= 1 or None"):
        CausalLMPolicy(model, tokenizer, max_prompt_length=0)


def test_causal_lm_round_trip_keeps_the_cap(tokenizer: PreTrainedTokenizerFast, tmp_path: Path) -> None:
    policy = CausalLMPolicy(tiny_qwen2(tokenizer, hidden_size=32, intermediate_size=64), tokenizer,
                            max_prompt_length=7)  # fmt: skip
    policy.save_pretrained(tmp_path / "policy")
    loaded = CausalLMPolicy.from_pretrained(tmp_path / "policy")
    assert loaded.max_prompt_length == 7
    with pytest.warns(UserWarning, match="max_prompt_length=7: 3 of 3 prompts"):
        ids, _ = loaded.tokenize_prompts(loaded.format_prompts(PROMPTS, 3))
    assert ids.shape[1] == 7


SMALL = tiny_omni_kwargs()


def test_tiny_omni_counts_text_tokens_only_and_round_trips(tmp_path: Path) -> None:
    torch.manual_seed(0)
    omni = TinyOmni(**SMALL, max_prompt_length=5).eval()  # type: ignore[arg-type]
    batch = synthetic_batch(["happy", "sad"], frames=4)
    text = omni.tokenizer(omni.format_prompts(None, 1), add_special_tokens=False)["input_ids"][0]
    with pytest.warns(UserWarning, match=f"2 of 2 prompts had more text tokens \\(longest {len(text)}\\)"):
        context = omni.encode(batch)
    assert context.embeds.shape == (2, 4 + 4 + 5, 32)  # 4 frame + 4 audio tokens are not counted
    expected = omni.embed_tokens(torch.tensor([text[-5:]] * 2))  # [2, 5, D]
    torch.testing.assert_close(context.embeds[:, 8:], expected, rtol=0, atol=0)
    omni.save_pretrained(tmp_path / "capped")
    assert TinyOmni.from_pretrained(tmp_path / "capped").max_prompt_length == 5
    assert TinyOmni(pretrained=str(tmp_path / "capped"), max_prompt_length=256).max_prompt_length == 256
    assert TinyOmni.from_pretrained(tmp_path / "capped", max_prompt_length=9).max_prompt_length == 9
    omni.max_prompt_length = None
    omni.save_pretrained(tmp_path / "uncapped")
    assert TinyOmni.from_pretrained(tmp_path / "uncapped").max_prompt_length is None


def test_qwen_omni_keeps_media_placeholders_and_round_trips(
    omni_folder: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    policy = QwenOmniThinker(str(omni_folder), dtype="float32", frame_mean=(0.0, 0.0, 0.0),
                             frame_std=(1.0, 1.0, 1.0), max_prompt_length=4).eval()  # fmt: skip
    merged: list[Any] = []
    merge = policy._merge
    policy._merge = lambda inputs: merged.append(inputs["input_ids"].clone()) or merge(inputs)  # type: ignore[method-assign]
    batch = synthetic_batch(["sad", "happy"], frames=2, size=56, seconds=0.5)
    batch.has_audio[1] = False  # rows of different media lengths
    policy.max_prompt_length = None
    policy.encode(batch)
    policy.max_prompt_length = 4
    with pytest.warns(UserWarning, match="max_prompt_length=4: 2 of 2 prompts"):
        context = policy.encode(batch)
    full, capped = merged
    media = set(policy._media_token_ids())
    pad = policy.pad_token_id
    expected = []
    for row in full.tolist():
        tokens = [t for t in row if t != pad]
        text_positions = [i for i, t in enumerate(tokens) if t not in media]
        dropped = set(text_positions[:-4])
        expected.append([t for i, t in enumerate(tokens) if i not in dropped])
    width = max(len(row) for row in expected)
    assert capped.tolist() == [[pad] * (width - len(row)) + row for row in expected]
    assert sum(t in media for t in expected[0]) > sum(t in media for t in expected[1]) > 4  # media all kept
    out = policy.generate(context, 1, SamplingConfig(max_new_tokens=2), torch.Generator().manual_seed(0))
    assert out.completion_ids.shape[0] == 2
    policy.save_pretrained(tmp_path / "thinker")
    loaded = QwenOmniThinker.from_pretrained(tmp_path / "thinker", dtype="float32")
    assert loaded.max_prompt_length == 4
    assert (
        QwenOmniThinker.from_pretrained(tmp_path / "thinker", max_prompt_length=None).max_prompt_length
        is None
    )


@pytest.mark.parametrize("name", ["erv_parity.yaml", "erv_parity_demo.yaml"])
def test_cap_is_a_policy_init_arg_in_yaml(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    override = "--model.init_args.policy.init_args.max_prompt_length=256"
    with pytest.raises(SystemExit) as stop:
        main(["fit", "--print_config", "--config", str(CONFIGS / name), override])
    assert stop.value.code == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["model"]["init_args"]["policy"]["init_args"]["max_prompt_length"] == 256
