"""``ervlight plan``: the recommendation for constructed cases, the shipped demo preset, one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from ervlight.scale.memory import Setup, Workload
from ervlight.scale.models import DecoderShape, ModelSpec
from ervlight.scale.plan_cli import GIB, main, recommend
from ervlight.scale.run_config import RunConfig

DECODER = DecoderShape(
    hidden=4096, intermediate=11008, layers=32, heads=32, kv_heads=8, head_dim=128, vocab=32000
)


def _run(params: int, micro_batch: int, completion: int, gpus: int = 8) -> RunConfig:
    """A constructed full fine-tune (fp32 masters, bf16 autocast, AdamW, GRPO with a reference copy)."""
    spec = ModelSpec("constructed", "test", params, params, 300, params, params // 40, DECODER, None, False)
    work = Workload(2, 4, micro_batch, 128, 0, 0, completion, False, 1024, True)
    return RunConfig(
        "GRPOModule",
        "CausalLMPolicy",
        spec,
        Setup(4, True, 2, True),
        work,
        "ddp",
        gpus,
        "gpu",
        "bf16-mixed",
        "float32",
        None,
    )


def test_a_case_that_fits_only_sharded_recommends_fsdp() -> None:
    lines = recommend(_run(7_000_000_000, 1, 64), int(36 * GIB))
    assert lines[0].startswith("does not fit: ddp needs ")
    assert lines[1].startswith("switch strategy to fsdp: peak ")
    assert lines[2].startswith("note: sharded figures assume one FSDP unit per decoder/vision layer")
    assert len(lines) == 3


def test_a_case_that_fits_nothing_names_the_change_that_makes_it_fit() -> None:
    lines = recommend(_run(7_000_000_000, 8, 4096), int(40 * GIB))
    assert lines[1] == "no strategy fits as configured; changes, applied one after another:"
    assert lines == [
        "does not fit: ddp needs 356.6 GiB per GPU",
        "no strategy fits as configured; changes, applied one after another:",
        "  + gradient checkpointing (gradient_checkpointing: true): deepspeed_stage_3 fits, peak 29.1 GiB",
    ]


def test_a_case_that_fits_nothing_even_after_every_change() -> None:
    lines = recommend(_run(7_000_000_000, 64, 65536, gpus=1), int(8 * GIB))
    assert lines[-2].startswith("  + CPU offload: still ")
    assert lines[-1].startswith("more GPUs: ")


def test_demo_preset_fits_one_device(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", "configs/sft/demo.yaml", "--gpu-memory", "24"]) == 0
    out = capsys.readouterr().out
    assert "config: configs/sft/demo.yaml (SFTModule, TinyOmni)" in out
    assert out.rstrip().splitlines()[-1].startswith("fits: ddp on 1 GPU(s), peak ")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (None, "no such config file"),
        ("trainer: [unclosed", "not valid YAML"),
        ("trainer: {}\n", "model.init_args is missing"),
        (
            "model: {class_path: x.GRPOModule, init_args: {policy: {class_path: a.B}}}\n",
            "model.init_args.policy.class_path 'B': the plan knows QwenOmniThinker, CausalLMPolicy and TinyOmni",
        ),
        (
            "model: {class_path: x.GRPOModule, init_args: {policy: {class_path: a.CausalLMPolicy, init_args: "
            "{model: /nowhere}}}}\n",
            "no config.json in /nowhere: pass --model",
        ),
    ],
)
def test_bad_configs_exit_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str | None, message: str
) -> None:
    path = tmp_path / "run.yaml"
    if text is not None:
        path.write_text(text)
    assert main(["--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(f"ervlight plan: {path}: ")
    assert message in err


def test_the_7b_parity_preset_needs_sharding_on_8_gpus_of_80_gib(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", "configs/grpo/erv_parity.yaml", "--model", "qwen2.5-omni-7b"]) == 0
    out = capsys.readouterr().out
    assert "  8,931,813,888 parameters, 8,292,166,656 trainable (full; frozen: audio_encoder)" in out
    fits = next(line for line in out.splitlines() if line.startswith("fits "))
    assert fits.split() == [
        "fits",
        "no",
        "no",
        "yes",
        "yes",
    ]  # ddp, deepspeed_stage_2, fsdp, deepspeed_stage_3
    assert out.rstrip().splitlines()[-3].startswith("does not fit: ddp needs 204.")
    assert out.rstrip().splitlines()[-2].startswith("switch strategy to fsdp: peak 52.")
