"""GRPOModule end to end on a tiny Qwen2 policy with a stub verifier: steps, logging, reference, LoRA, masks."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import torch
from grpo_stubs import PromptData, tiny_trainer
from lightning.pytorch import Callback, LightningModule, Trainer

from ervlight.policy import CausalLMPolicy
from ervlight.tasks.grpo import GRPOModule

TRL_NAMES = {
    "loss", "reward", "reward_std", "frac_reward_zero_std", "rewards/format/mean", "rewards/format/std",
    "rewards/accuracy/mean", "rewards/explanation/mean", "rewards/explanation/std", "completions/mean_length",
    "completions/min_length", "completions/max_length", "completions/clipped_ratio",
    "completions/mean_terminated_length", "completions/min_terminated_length",
    "completions/max_terminated_length", "kl", "entropy", "clip_ratio/low_mean", "clip_ratio/low_min",
    "clip_ratio/high_mean", "clip_ratio/high_max", "clip_ratio/region_mean", "grad_norm", "learning_rate",
    "num_tokens", "step_time", "step_time/generation", "step_time/reference", "step_time/rewards",
    "step_time/policy",
}  # fmt: skip


def _snapshot(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: p.detach().clone() for name, p in module.named_parameters()}


def test_two_step_run_trains_and_logs_trl_names(
    make_module: Callable[..., GRPOModule], tmp_path: Path
) -> None:
    module = make_module()
    before = _snapshot(module.policy)
    trainer = tiny_trainer(tmp_path, max_steps=2)
    trainer.fit(module, datamodule=PromptData(batch_size=2))
    assert trainer.global_step == 2
    logged = set(trainer.logged_metrics)
    assert logged >= TRL_NAMES, sorted(TRL_NAMES - logged)
    assert 0.0 <= trainer.logged_metrics["rewards/explanation/mean"].item() <= 1.0
    assert trainer.logged_metrics["completions/max_length"].item() <= 6
    changed = [name for name, p in module.policy.named_parameters() if not torch.equal(p, before[name])]
    assert changed, "no policy parameter moved"
    assert all(not p.requires_grad for p in module.reference.parameters())  # type: ignore[union-attr]
    assert all(torch.equal(p, before[n]) for n, p in module.reference.named_parameters())  # type: ignore[union-attr]
    table = module.last_completion_table
    assert len(table) == 3
    assert list(table[0]) == [
        "prompt", "label", "completion", "format", "accuracy", "explanation", "vowels", "advantage"
    ]  # fmt: skip
    assert table[0]["prompt"] == table[1]["prompt"] == "Describe a shouting face."  # second batch, G = 2
    events = list((tmp_path / "grpo").rglob("events.out.tfevents.*"))
    assert len(events) == 1


def test_policy_trains_in_eval_mode(make_module: Callable[..., GRPOModule], tmp_path: Path) -> None:
    """Sampling, scoring and the loss see one function: no module of the policy is in train mode in a step."""
    module = make_module()
    module.policy.add_module("norm", torch.nn.BatchNorm1d(4))  # statistics that train mode would move
    running_mean = module.policy.norm.running_mean.clone()  # type: ignore[union-attr]
    modes: list[bool] = []

    class Record(Callback):
        def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, *args: Any) -> None:
            modes.extend(m.training for m in module.policy.modules())

    trainer = tiny_trainer(tmp_path, max_steps=2, callbacks=[Record()])
    module.policy.train()
    trainer.fit(module, datamodule=PromptData(batch_size=2))
    assert len(modes) == 2 * len(list(module.policy.modules()))
    assert not any(modes)
    module.policy.norm(torch.randn(3, 4))  # eval mode: uses, and leaves, the stored statistics
    assert torch.equal(module.policy.norm.running_mean, running_mean)  # type: ignore[union-attr]


def test_beta_zero_builds_no_reference(make_module: Callable[..., GRPOModule]) -> None:
    module = make_module(beta=0.0)
    assert module.reference is None
    assert module.reference_logprobs(None, None, None) is None  # type: ignore[arg-type]
    assert "reference" not in dict(module.named_children())
    with_reference = make_module(beta=0.04)
    assert isinstance(with_reference.reference, CausalLMPolicy)
    assert with_reference.reference is not with_reference.policy


def test_lora_reference_is_the_policy_with_adapters_off(
    make_module: Callable[..., GRPOModule], tmp_path: Path
) -> None:
    module = make_module(lora=True, beta=0.04, optimizer=partial(torch.optim.SGD, lr=0.5))
    assert module.reference is None
    before = _snapshot(module.policy)
    tiny_trainer(tmp_path, max_steps=2).fit(module, datamodule=PromptData(batch_size=2))
    moved = {name for name, p in module.policy.named_parameters() if not torch.equal(p, before[name])}
    assert moved, "no adapter moved"
    assert all("lora_" in name for name in moved), sorted(moved)
    context = module.policy.encode(["Describe a calm face."])
    generation = module.policy.generate(context, 2, module.sampling, torch.Generator().manual_seed(0))
    ids, mask = generation.completion_ids, generation.completion_mask
    reference = module.reference_logprobs(context, ids, mask)
    with module.policy.adapters_disabled():
        base = module.policy.completion_logprobs(context, ids, mask, num_samples=2)
    policy = module.policy.completion_logprobs(context, ids, mask, num_samples=2)
    assert reference is not None
    torch.testing.assert_close(reference, base)
    assert not torch.allclose(reference, policy)


@pytest.mark.parametrize("loss_type", ["grpo", "dapo"])
def test_micro_batches_give_the_same_update(
    make_module: Callable[..., GRPOModule], tmp_path: Path, loss_type: str
) -> None:
    params = []
    for micro in (None, 1, 3):
        module = make_module(loss_type=loss_type, micro_batch_size=micro, max_grad_norm=None)
        tiny_trainer(tmp_path, max_steps=1).fit(module, datamodule=PromptData(batch_size=2))
        params.append(_snapshot(module.policy))
    for other in params[1:]:
        for name, value in params[0].items():
            torch.testing.assert_close(other[name], value, rtol=1e-5, atol=1e-6)


def test_mask_truncated_completions_leaves_truncated_samples_out(
    make_module: Callable[..., GRPOModule], tmp_path: Path
) -> None:
    module = make_module(max_completion_length=2, mask_truncated_completions=True)
    before = _snapshot(module.policy)
    trainer = tiny_trainer(tmp_path, max_steps=1)
    trainer.fit(module, datamodule=PromptData(batch_size=2, repeats=1))
    metrics = trainer.logged_metrics
    # 4 completions of at most 2 tokens: only the ones that ended with EOS enter the loss.
    terminated = round(4 * (1 - metrics["completions/clipped_ratio"].item()))
    if terminated == 0:  # nothing to learn: no update
        assert all(torch.equal(p, before[n]) for n, p in module.policy.named_parameters())
    batch = next(iter(PromptData().train_dataloader()))
    rollout, *_ = module.make_rollout(batch)
    assert not rollout.completion_mask[rollout.truncated].any()
    unmasked = make_module(max_completion_length=2)
    rollout, *_ = unmasked.make_rollout(batch)
    assert rollout.completion_mask[rollout.truncated].any()


def test_num_iterations_keeps_old_logprobs_and_clips(
    make_module: Callable[..., GRPOModule], tmp_path: Path
) -> None:
    module = make_module(
        num_iterations=3, epsilon=0.0, epsilon_high=0.0, optimizer=partial(torch.optim.SGD, lr=1.0)
    )
    trainer = tiny_trainer(tmp_path, max_steps=3)
    trainer.fit(module, datamodule=PromptData(batch_size=2))
    assert trainer.global_step == 3  # one rollout, three optimiser updates
    # with a zero clipping range every token that moved in updates 2 and 3 is clipped on one side
    assert trainer.logged_metrics["clip_ratio/region_mean"].item() > 0.0
    batch = next(iter(PromptData().train_dataloader()))
    rollout, *_ = module.make_rollout(batch)
    assert rollout.old_logprobs is not None
    assert rollout.old_logprobs.shape == rollout.completion_ids.shape
    assert make_module().make_rollout(batch)[0].old_logprobs is None


def test_zero_variance_filter_is_keyed_on_the_accuracy_reward(
    make_module: Callable[..., GRPOModule], tmp_path: Path
) -> None:
    module = make_module(filter_zero_std_groups=True)
    before = _snapshot(module.policy)
    trainer = tiny_trainer(tmp_path, max_steps=1)
    trainer.fit(module, datamodule=PromptData(batch_size=2))
    # a random policy never answers correctly: accuracy is flat in every group although the vowel reward varies
    assert trainer.logged_metrics["rewards/accuracy/mean"].item() == 0.0
    assert trainer.logged_metrics["frac_reward_zero_std"].item() < 1.0
    assert trainer.logged_metrics["frac_groups_filtered"].item() == 1.0
    assert trainer.logged_metrics["loss"].item() == 0.0
    assert all(torch.equal(p, before[n]) for n, p in module.policy.named_parameters())
    with pytest.raises(KeyError, match="no reward named 'accuracy'"):
        make_module(filter_zero_std_groups=True, rewards=[{"name": "format"}])


@pytest.mark.parametrize("repeats", [1, 2], ids=["epoch-boundary", "mid-epoch"])
def test_resume_gives_the_same_parameters(
    make_module: Callable[..., GRPOModule], tmp_path: Path, repeats: int
) -> None:
    scheduler = partial(torch.optim.lr_scheduler.StepLR, step_size=1, gamma=0.5)
    optimizer = partial(torch.optim.AdamW, lr=0.01)
    straight = make_module(optimizer=optimizer, lr_scheduler=scheduler)
    tiny_trainer(tmp_path / "a", max_steps=4).fit(
        straight, datamodule=PromptData(batch_size=2, repeats=repeats, resumable=True)
    )

    first = make_module(optimizer=optimizer, lr_scheduler=scheduler)
    trainer = tiny_trainer(tmp_path / "b", max_steps=2)
    trainer.fit(first, datamodule=PromptData(batch_size=2, repeats=repeats, resumable=True))
    trainer.save_checkpoint(tmp_path / "half.ckpt")
    resumed = make_module(optimizer=optimizer, lr_scheduler=scheduler, seed=0)
    with torch.no_grad():  # a different start: the checkpoint must bring everything back
        for p in resumed.policy.parameters():
            p.add_(1.0)
    trainer = tiny_trainer(tmp_path / "b", max_steps=4)
    trainer.fit(
        resumed,
        datamodule=PromptData(batch_size=2, repeats=repeats, resumable=True),
        ckpt_path=tmp_path / "half.ckpt",
    )
    assert trainer.global_step == 4
    assert resumed.lr_schedulers().get_last_lr() == [0.01 * 0.5**4]  # type: ignore[union-attr]
    for (name, value), other in zip(
        straight.policy.named_parameters(), resumed.policy.parameters(), strict=True
    ):
        torch.testing.assert_close(other, value, rtol=0, atol=0, msg=name)


def test_validation_scores_per_dataset_with_the_verifier_judge(
    make_module: Callable[..., GRPOModule], tmp_path: Path
) -> None:
    module = make_module(datasets=["dfew", "mafw"])
    trainer = tiny_trainer(tmp_path, max_steps=1, limit_val_batches=None)
    (metrics,) = trainer.validate(module, datamodule=PromptData(batch_size=2), verbose=False)
    expected = {
        f"val/dfew/{key}" for key in ("war", "uar", "unparseable_rate", "format_rate", "eea", "epc", "fcr")
    }
    assert expected <= set(metrics), sorted(metrics)
    assert not any(key.startswith("val/mafw/") for key in metrics)  # no MAFW clip was seen
    assert {"val/rewards/format", "val/rewards/accuracy", "val/rewards/explanation"} <= set(metrics)
    assert 0.0 <= metrics["val/dfew/war"] <= 1.0
    with pytest.raises(ValueError, match="holds 'dfew' clips but the module tracks"):
        trainer.validate(make_module(datasets=["mafw"]), datamodule=PromptData(batch_size=2), verbose=False)


def test_policy_factory_and_saved_policy(make_policy: Callable[..., CausalLMPolicy], tmp_path: Path) -> None:
    module = GRPOModule(
        partial(make_policy, lora=True), num_generations=2, max_completion_length=4, beta=0.0,
        datasets=["dfew"], policy_dir=str(tmp_path / "policy"),
    )  # fmt: skip
    assert isinstance(module.policy, CausalLMPolicy)
    assert module.policy.has_adapters
    tiny_trainer(tmp_path, max_steps=1).fit(module, datamodule=PromptData(batch_size=2))
    assert (tmp_path / "policy" / "adapter" / "adapter_config.json").is_file()


def test_bf16_mixed_precision_step(make_module: Callable[..., GRPOModule], tmp_path: Path) -> None:
    module = make_module(scale_rewards="batch", multi_objective_aggregation="normalize_then_sum")
    before = _snapshot(module.policy)
    trainer = tiny_trainer(tmp_path, max_steps=1, precision="bf16-mixed")
    trainer.fit(module, datamodule=PromptData(batch_size=2))
    assert trainer.global_step == 1
    assert torch.isfinite(trainer.logged_metrics["loss"])
    assert any(not torch.equal(p, before[n]) for n, p in module.policy.named_parameters())
    assert all(p.dtype == torch.float32 for p in module.policy.parameters())  # fp32 master weights
