"""The memory plan: exact parameter/gradient/optimizer bytes after a real CPU step, activations within a bound."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import (
    Qwen2_5OmniThinkerConfig,
    Qwen2_5OmniThinkerForConditionalGeneration,
    Qwen2Config,
    Qwen2ForCausalLM,
)

from ervlight.policy import CausalLMPolicy, FinetuneConfig, tiny_qwen2, train_bpe_tokenizer
from ervlight.policy.finetune import freeze_modules, wrap_lora
from ervlight.scale.memory import (
    Setup,
    Workload,
    activation_bytes_per_token,
    plan_memory,
    stack_activation_bytes,
)
from ervlight.scale.models import DecoderShape, hf_spec
from scale.omni_full import THINKER

TEXTS = ["<think>The face is sad.</think>\n<answer>sad</answer>"] * 5


def _work(**changes: object) -> Workload:
    """A small workload (fields not under test)."""
    values: dict[str, object] = dict(
        prompts=1,
        generations=1,
        micro_batch=1,
        prompt_tokens=8,
        media_tokens=0,
        vision_patches=0,
        completion_tokens=8,
        gradient_checkpointing=False,
        logprob_chunk=1024,
        rollout=False,
    )
    return Workload(**(values | changes))  # type: ignore[arg-type]


def _tensor_bytes(tensors: list[torch.Tensor]) -> int:
    """Total bytes of some tensors."""
    return sum(t.numel() * t.element_size() for t in tensors)


@pytest.mark.parametrize("mode", ["full", "lora"])
def test_state_terms_equal_the_bytes_after_one_adamw_step(tmp_path: Path, mode: str) -> None:
    tokenizer = train_bpe_tokenizer(TEXTS, vocab_size=200)
    torch.manual_seed(0)
    model = tiny_qwen2(tokenizer, hidden_size=32, num_layers=2, intermediate_size=64, tie_embeddings=False)
    model.save_pretrained(tmp_path / "lm")
    finetune = FinetuneConfig(mode=mode)  # type: ignore[arg-type]
    policy = CausalLMPolicy(model, tokenizer, finetune=finetune)
    trainable = [p for p in policy.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=1e-3)
    ids = torch.randint(0, len(tokenizer), (2, 6))
    policy.lm(input_ids=ids).logits.float().square().mean().backward()
    optimizer.step()
    states = [t for state in optimizer.state.values() for t in state.values()]

    spec = hf_spec(tmp_path / "lm", None, finetune)
    plan = plan_memory(spec, Setup(4, False, 2, False), _work(), "ddp", 1)
    assert plan.weights == _tensor_bytes(list(policy.parameters()))
    assert plan.gradients == _tensor_bytes([p.grad for p in trainable if p.grad is not None])
    assert plan.optimizer == _tensor_bytes(states)
    assert spec.trainable == sum(p.numel() for p in trainable)
    sharded = plan_memory(spec, Setup(4, False, 2, True), _work(), "fsdp", 4)
    assert sharded.weights == -(-plan.weights // 4)
    assert sharded.reference == sharded.weights  # the frozen copy is sharded the same way


def _saved_bytes(model: Qwen2ForCausalLM, ids: torch.Tensor, autocast: bool) -> int:
    """Bytes autograd saves for backward in the decoder (parameters themselves excluded)."""
    seen: dict[int, int] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        seen[tensor.untyped_storage().data_ptr()] = tensor.untyped_storage().nbytes()
        return tensor

    hooks = torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t)
    with hooks, torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        model.model(input_ids=ids)
    parameters = {p.untyped_storage().data_ptr() for p in model.parameters()}
    return sum(size for ptr, size in seen.items() if ptr not in parameters)


@pytest.mark.parametrize(("autocast", "checkpointing"), [(False, False), (True, False), (False, True)])
def test_activation_formula_within_one_percent(autocast: bool, checkpointing: bool) -> None:
    config = Qwen2Config(
        vocab_size=300,
        hidden_size=96,
        intermediate_size=256,
        num_hidden_layers=3,
        num_attention_heads=6,
        num_key_value_heads=2,
        tie_word_embeddings=False,
        attn_implementation="sdpa",
    )
    torch.manual_seed(0)
    model = Qwen2ForCausalLM(config).train()
    if checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    ids = torch.randint(0, 300, (2, 48))
    measured = _saved_bytes(model, ids, autocast)
    if autocast:  # autocast's bf16 weight copies are a separate term of the plan
        measured -= 2 * sum(p.numel() for n, p in model.model.layers.named_parameters() if p.dim() == 2)
    shape = DecoderShape(96, 256, 3, 6, 2, 16, 300)
    planned = stack_activation_bytes(shape, 2 * 48, 4, autocast, checkpointing)
    if checkpointing:  # what stays saved is each layer's input; one layer's recompute is transient
        planned -= activation_bytes_per_token(shape, 4, autocast) * 2 * 48
    assert abs(planned - measured) / measured < 0.01, (planned, measured)


@pytest.mark.parametrize("mode", ["full", "lora"])
def test_thinker_counts_equal_a_real_thinker_after_one_step(tmp_path: Path, mode: str) -> None:
    config = Qwen2_5OmniThinkerConfig(**THINKER)
    torch.manual_seed(0)
    Qwen2_5OmniThinkerForConditionalGeneration(config).save_pretrained(tmp_path / "thinker")
    finetune = FinetuneConfig(mode=mode, freeze=["audio_encoder"])  # type: ignore[arg-type]
    spec = hf_spec(tmp_path / "thinker", None, finetune)

    thinker = Qwen2_5OmniThinkerForConditionalGeneration.from_pretrained(tmp_path / "thinker")
    model = wrap_lora(thinker, finetune) if mode == "lora" else thinker
    freeze_modules({"audio_encoder": thinker.model.audio_tower}, ["audio_encoder"])
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=1e-3)
    ids = torch.randint(10, 300, (2, 6))
    unused = sum(p.sum() for p in trainable) * 0.0  # text only: the towers get (zero) gradients too
    (model(input_ids=ids).logits.square().mean() + unused).backward()
    optimizer.step()
    states = [t for state in optimizer.state.values() for t in state.values()]
    plan = plan_memory(spec, Setup(4, False, 2, False), _work(), "ddp", 1)
    assert spec.total == sum(p.numel() for p in model.parameters())
    assert plan.weights == _tensor_bytes(list(model.parameters()))
    assert plan.gradients == _tensor_bytes([p.grad for p in trainable if p.grad is not None])
    assert plan.optimizer == _tensor_bytes(states)
    assert spec.vision_trainable == (mode == "full")
