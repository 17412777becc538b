"""Released key layout: load with nothing missing or unexpected beyond the allow-list, save back to the same names."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from transformers import BertTokenizerFast, PreTrainedTokenizerFast

from ervlight.policy.humanomni import HumanOmni, HumanOmniConfig, HumanOmniModel
from ervlight.policy.humanomni.checkpoint import checkpoint_keys, load_checkpoint
from humanomni.tiny import IGNORED_EXTRAS, write_encoder_folders, write_released

PREFIXES = (
    "model.embed_tokens.", "model.layers.", "model.norm.", "model.vision_tower.vision_tower.vision_model.",
    "model.mm_projector.", "model.bert_model.", "model.bert_gate.", "model.audio_tower.audio_tower.",
    "model.audio_projector.",
)  # fmt: skip


def _released_model(config: HumanOmniConfig) -> HumanOmniModel:
    torch.manual_seed(1)
    return HumanOmniModel(config)


def test_released_layout_loads_exactly_and_saves_back_to_the_same_names(
    config: HumanOmniConfig, tokenizer: PreTrainedTokenizerFast, bert_tok: BertTokenizerFast, tmp_path: Path
) -> None:
    model = _released_model(config)
    written = write_released(model, tmp_path / "release", tokenizer)
    assert all(any(k.startswith(p) for k in written) for p in PREFIXES)
    assert "lm_head.weight" not in written  # tied 0.5B
    torch.manual_seed(2)
    fresh = HumanOmniModel(config)
    report = load_checkpoint(fresh, tmp_path / "release", tied=True)
    assert report.missing == []
    assert report.unexpected == []
    assert sorted(report.ignored) == sorted(IGNORED_EXTRAS)
    policy = HumanOmni(str(tmp_path / "release"), bert_tokenizer=bert_tok, encoder_weights="checkpoint",
                       **_encoder_configs(tmp_path, model))  # fmt: skip
    for name, value in model.state_dict().items():
        torch.testing.assert_close(policy.state_dict()[name], value, rtol=0, atol=0)
    assert policy.lm.lm_head.weight is policy.lm.model.embed_tokens.weight  # type: ignore[union-attr]
    policy.save_pretrained(tmp_path / "saved")
    saved = checkpoint_keys(tmp_path / "saved")
    assert set(saved) == set(written) - set(IGNORED_EXTRAS)
    with safe_open(str(tmp_path / "saved" / "model.safetensors"), framework="pt") as handle:
        for key in saved:
            assert torch.equal(handle.get_tensor(key), written[key]), key
    again = HumanOmni.from_pretrained(tmp_path / "saved")
    for name, value in model.state_dict().items():
        assert torch.equal(again.state_dict()[name], value), name


def _encoder_configs(root: Path, model: HumanOmniModel) -> dict[str, str]:
    """Folders holding only the encoders' configs (a release keeps them outside the checkpoint)."""
    folders = {}
    for name, values in (("audio_encoder", model.config.audio), ("vision_encoder", model.config.vision)):
        (root / name).mkdir(exist_ok=True)
        (root / name / "config.json").write_text(json.dumps(values))
        folders[name] = str(root / name)
    (root / "bert").mkdir(exist_ok=True)
    (root / "bert" / "config.json").write_text(json.dumps(model.config.bert))
    folders["bert"] = str(root / "bert")
    return folders


def test_unexpected_and_missing_keys_are_errors_naming_the_folder(
    config: HumanOmniConfig, tokenizer: PreTrainedTokenizerFast, tmp_path: Path
) -> None:
    model = _released_model(config)
    write_released(model, tmp_path / "extra", tokenizer)
    index = json.loads((tmp_path / "extra" / "model.safetensors.index.json").read_text())
    from safetensors.torch import save_file

    save_file({"model.surprise.weight": torch.zeros(2)}, str(tmp_path / "extra" / "model-extra.safetensors"))
    index["weight_map"]["model.surprise.weight"] = "model-extra.safetensors"
    (tmp_path / "extra" / "model.safetensors.index.json").write_text(json.dumps(index))
    with pytest.raises(
        ValueError,
        match=r"extra does not match this HumanOmni: missing \[\] \(0\), unexpected \['model.surprise.weight'\]",
    ):
        load_checkpoint(HumanOmniModel(config), tmp_path / "extra", tied=True)
    with pytest.raises(ValueError, match=r"missing \['lm.lm_head.weight'\] \(1\)"):
        load_checkpoint(HumanOmniModel(config), tmp_path / "extra", tied=False, strict=True)


def test_reference_mode_reloads_the_original_encoders(
    config: HumanOmniConfig, tokenizer: PreTrainedTokenizerFast, bert_tok: BertTokenizerFast, tmp_path: Path
) -> None:
    model = _released_model(config)
    write_released(model, tmp_path / "release", tokenizer)
    siglip, whisper = write_encoder_folders(model, tmp_path / "originals", seed=5)
    (tmp_path / "bert").mkdir()
    (tmp_path / "bert" / "config.json").write_text(json.dumps(config.bert))
    policy = HumanOmni(str(tmp_path / "release"), bert_tokenizer=bert_tok, vision_encoder=str(siglip),
                       audio_encoder=str(whisper), bert=str(tmp_path / "bert"))  # fmt: skip
    torch.manual_seed(5)
    originals = HumanOmniModel(config)
    for part in ("vision_tower", "audio_tower"):
        ours = policy.media.get_submodule(part).state_dict()
        for name, value in originals.media.get_submodule(part).state_dict().items():
            assert torch.equal(ours[name], value), name
    for name, value in model.media.mm_projector.state_dict().items():
        assert torch.equal(policy.media.mm_projector.state_dict()[name], value)


def test_cli_key_check_and_encoder_comparison(
    config: HumanOmniConfig,
    tokenizer: PreTrainedTokenizerFast,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from ervlight.policy.humanomni.cli import main

    model = _released_model(config)
    write_released(model, tmp_path / "release", tokenizer)
    siglip, whisper = write_encoder_folders(model, tmp_path / "originals", seed=5)
    folders = _encoder_configs(tmp_path, model)
    release = str(tmp_path / "release")
    args = [
        "--vision",
        folders["vision_encoder"],
        "--audio",
        folders["audio_encoder"],
        "--bert",
        folders["bert"],
    ]
    assert main(["keys", release, *args]) == 0
    assert capsys.readouterr().out.strip().endswith("OK")
    assert main(["compare-encoders", release, "--vision", str(siglip), "--audio", str(whisper)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split(":")[0] for line in lines] == ["vision", "audio"]
    assert all(line.endswith("(differs)") for line in lines)
    assert main(["keys", str(tmp_path / "nothing"), *args]) == 2
