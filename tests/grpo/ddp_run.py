"""One GRPO step under 2-process DDP on CPU (gloo), or in one process; saves the loss and the policy weights.

Run by ``test_ddp.py`` as ``python ddp_run.py OUT_DIR {ddp,single}``. Lightning re-launches this script for rank
1. Completions are sampled per prompt from a generator seeded by the prompt (see :class:`PromptSeededPolicy`), so
both runs see the same completions whatever rank a prompt lands on.
"""

from __future__ import annotations

import json
import sys
from functools import partial
from pathlib import Path

import torch
from grpo_stubs import PromptData, erv_rewards, tiny_trainer
from safetensors.torch import save_file

from ervlight.policy import CausalLMPolicy, tiny_qwen2, train_bpe_tokenizer
from ervlight.policy.base import Generation, PromptContext, SamplingConfig
from ervlight.tasks.grpo import GRPOModule

CORPUS = [
    "<think>He smiles.</think>\n<answer>happy</answer>",
    "Describe a smiling face. Describe a calm face.",
]


class PromptSeededPolicy(CausalLMPolicy):
    """Samples each prompt alone (padding stripped) with a generator seeded by its token ids."""

    def generate(
        self,
        context: PromptContext,
        num_samples: int = 1,
        sampling: SamplingConfig | None = None,
        generator: torch.Generator | None = None,
    ) -> Generation:
        parts = []
        for row in range(context.num_prompts):
            real = context.attention_mask[row].bool()  # [P]
            alone = PromptContext(
                context.embeds[row : row + 1, real], context.attention_mask[row : row + 1, real]
            )
            seed = int((alone.embeds * 1e4).round().abs().sum().item()) % (2**31)
            parts.append(super().generate(alone, num_samples, sampling, torch.Generator().manual_seed(seed)))
        length = max(p.completion_ids.shape[1] for p in parts)
        ids = torch.cat([torch.nn.functional.pad(p.completion_ids, (0, length - p.completion_ids.shape[1]),
                                                 value=self.pad_token_id) for p in parts])  # fmt: skip
        mask = torch.cat([torch.nn.functional.pad(p.completion_mask, (0, length - p.completion_mask.shape[1]))
                          for p in parts])  # fmt: skip
        truncated = torch.cat([p.truncated for p in parts])
        return Generation(ids, mask, truncated, [t for p in parts for t in p.texts])


def main(out: Path, mode: str) -> None:
    """Fit one step with 4 prompts: 2 ranks x 2 prompts, or 1 process x 4 prompts."""
    tokenizer = train_bpe_tokenizer(CORPUS * 5, vocab_size=300)
    torch.manual_seed(0)
    policy = PromptSeededPolicy(tiny_qwen2(tokenizer, hidden_size=32, intermediate_size=64), tokenizer)
    module = GRPOModule(
        policy, rewards=erv_rewards(), num_generations=2, max_completion_length=6, datasets=["dfew"],
        max_grad_norm=None, log_completions_steps=0, policy_dir=str(out / f"policy_{mode}"),
        optimizer=partial(torch.optim.SGD, lr=0.5),
    )  # fmt: skip
    initial = {name: p.detach().clone().contiguous() for name, p in module.policy.named_parameters()}
    ddp = mode == "ddp"
    trainer = tiny_trainer(
        out / mode, max_steps=1, devices=2 if ddp else 1, strategy="ddp" if ddp else "auto",
        enable_progress_bar=False,
    )  # fmt: skip
    trainer.fit(module, datamodule=PromptData(batch_size=2 if ddp else 4))
    if trainer.is_global_zero:
        metrics = {k: float(v) for k, v in trainer.logged_metrics.items()} | {
            "world_size": trainer.world_size
        }
        (out / f"{mode}.json").write_text(json.dumps(metrics))
        weights = {name: p.detach().contiguous() for name, p in module.policy.named_parameters()}
        save_file(weights, str(out / f"{mode}.safetensors"))
        save_file(initial, str(out / f"{mode}_initial.safetensors"))


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2])
