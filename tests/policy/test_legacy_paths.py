"""Module paths from before the backbones/generation split: moved ones still import, the split one names its parts."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import pytest
from jsonargparse import ArgumentParser

from ervlight.policy import CausalLMPolicy, Policy, QwenOmniThinker, TinyOmni
from ervlight.policy.backbones.lean_qwen2 import LeanQwen2Step
from ervlight.policy.generation.kv_cache import GrowingLayer
from ervlight.policy.legacy_paths import MOVED


@pytest.mark.parametrize("old", sorted(MOVED))
def test_a_moved_module_imports_under_its_old_path_as_the_new_module(old: str) -> None:
    assert importlib.import_module(old) is importlib.import_module(MOVED[old])


def test_old_class_paths_give_the_same_classes() -> None:
    from ervlight.policy.causal_lm import CausalLMPolicy as OldCausalLM
    from ervlight.policy.fast_decode import LeanQwen2Step as OldLeanStep
    from ervlight.policy.kv_cache import GrowingLayer as OldGrowingLayer
    from ervlight.policy.qwen_omni import QwenOmniThinker as OldQwenOmni
    from ervlight.policy.tiny_omni import TinyOmni as OldTinyOmni

    assert (OldCausalLM, OldQwenOmni, OldTinyOmni) == (CausalLMPolicy, QwenOmniThinker, TinyOmni)
    assert (OldLeanStep, OldGrowingLayer) == (LeanQwen2Step, GrowingLayer)
    assert TinyOmni.__module__ == "ervlight.policy.backbones.tiny_omni"


@pytest.mark.parametrize(
    ("class_path", "expected"),
    [
        ("ervlight.policy.qwen_omni.QwenOmniThinker", QwenOmniThinker),  # configs/grpo/erv_parity.yaml
        ("ervlight.policy.causal_lm.CausalLMPolicy", CausalLMPolicy),
        ("ervlight.policy.tiny_omni.TinyOmni", TinyOmni),
        ("ervlight.policy.TinyOmni", TinyOmni),  # configs/sft/demo.yaml
        ("ervlight.policy.QwenOmniThinker", QwenOmniThinker),  # named in configs/eval/demo.yaml
    ],
)
def test_yaml_class_paths_of_the_old_layout_resolve(class_path: str, expected: type[Policy]) -> None:
    parser = ArgumentParser(exit_on_error=False)
    parser.add_argument("--policy", type=Policy)
    init_args = {"vocab_size": 300} if expected is TinyOmni else {"model": "a/folder"}
    config = parser.parse_args(["--policy", json.dumps({"class_path": class_path, "init_args": init_args})])
    assert config.policy.class_path == class_path
    module, name = class_path.rsplit(".", 1)
    assert getattr(importlib.import_module(module), name) is expected


def test_the_split_decoding_module_names_the_modules_that_replaced_it() -> None:
    message = (
        "ervlight.policy.decoding was split into ervlight.policy.generation.sampling (the decode loop: "
        "sample_completions, sample_token, filter_logits), ervlight.policy.generation.scoring (the log-prob pass: "
        "completion_token_scores) and ervlight.policy.generation.parts (DecoderParts, prompt_positions, "
        "next_positions)"
    )
    with pytest.raises(ModuleNotFoundError) as error:
        importlib.import_module("ervlight.policy.decoding")
    assert str(error.value) == message
    with pytest.raises(ModuleNotFoundError, match=r"^ervlight\.policy\.decoding was split into "):
        from ervlight.policy import decoding  # noqa: F401


@pytest.mark.slow  # a fresh interpreter imports torch and transformers (10-30 s)
def test_an_old_path_imports_first_thing_in_a_fresh_interpreter() -> None:
    code = "from ervlight.policy.qwen_omni import QwenOmniThinker; print(QwenOmniThinker.__module__)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "ervlight.policy.backbones.qwen_omni"
