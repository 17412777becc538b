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
from grpo_stubs import PromptData, erv_rewards, sample_each_prompt_alone, tiny_trainer
from safetensors.torch import save_file

from ervlight.policy import CausalLMPolicy, tiny_qwen2, train_bpe_tokenizer
from ervlight.policy.base import Generation, PromptContext, SamplingConfig
from ervlight.tasks.grpo import GRPOModule
from ervlight.training.distributed import release_process_group

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
        def one(alone: PromptContext, seeded: torch.Generator) -> Generation:
            return super(PromptSeededPolicy, self).generate(alone, num_samples, sampling, seeded)

        def seed_of(alone: PromptContext) -> int:
            return int((alone.embeds * 1e4).round().abs().sum().item()) % (2**31)

        return sample_each_prompt_alone(one, context, seed_of, self.pad_token_id)


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
    release_process_group()  # left to the interpreter's exit, gloo sometimes aborts ("terminate called ...")


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2])
