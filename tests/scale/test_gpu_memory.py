"""GPU check: the plan's terms against ``torch.cuda.max_memory_allocated`` on a real bf16-autocast training step."""

from __future__ import annotations

import pytest
import torch
from transformers import Qwen2Config, Qwen2ForCausalLM

from ervlight.scale.memory import Setup, Workload, plan_memory
from ervlight.scale.models import DecoderShape, ModelSpec

pytestmark = pytest.mark.gpu


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_plan_is_within_a_quarter_of_the_measured_peak_of_a_step() -> None:
    config = Qwen2Config(
        vocab_size=32000,
        hidden_size=1024,
        intermediate_size=2816,
        num_hidden_layers=8,
        num_attention_heads=16,
        num_key_value_heads=4,
        tie_word_embeddings=False,
        attn_implementation="sdpa",
    )
    torch.manual_seed(0)
    model = Qwen2ForCausalLM(config).cuda().train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)
    rows, length = 4, 512
    ids = torch.randint(0, 32000, (rows, length), device="cuda")
    for _ in range(2):  # the second step holds the optimizer states from the first
        torch.cuda.reset_peak_memory_stats()
        with torch.autocast("cuda", dtype=torch.bfloat16):
            hidden = model.model(input_ids=ids).last_hidden_state  # [rows, length, D]
            logits = model.lm_head(hidden[:, -64:])  # [rows, 64, V]
        logits.float().log_softmax(-1).mean().backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    measured = torch.cuda.max_memory_allocated()
    params = list(model.parameters())
    total = sum(p.numel() for p in params)
    layer = sum(p.numel() for p in model.model.layers[0].parameters())
    decoder = DecoderShape(1024, 2816, 8, 16, 4, 64, 32000)
    spec = ModelSpec("qwen2-gpu-check", "test", total, total, len(params), total, layer, decoder, None, False)
    work = Workload(rows, 1, rows, length - 64, 0, 0, 64, False, rows * 64, False)
    plan = plan_memory(spec, Setup(4, True, 2, False), work, "ddp", 1)
    print(
        f"GPU memory plan check: measured peak {measured / 2**20:.1f} MiB, planned {plan.peak / 2**20:.1f} MiB "
        f"(weights {plan.weights / 2**20:.1f}, grads {plan.gradients / 2**20:.1f}, optimizer "
        f"{plan.optimizer / 2**20:.1f}, copies {plan.weight_copies / 2**20:.1f}, activations "
        f"{plan.activations / 2**20:.1f}, logits {plan.logits / 2**20:.1f})"
    )
    assert plan.weights + plan.optimizer <= measured
    assert abs(plan.peak - measured) / measured < 0.25
