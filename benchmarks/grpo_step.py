"""GRPO step throughput and peak memory: ervlight's GRPOModule vs TRL's GRPOTrainer, configured identically.

Same tiny text-only Qwen2 (random weights from one seed, a byte-level BPE tokenizer trained in-process), same
prompts (the chat template applied as text for both), same G, completion length, loss (grpo), beta (0.04, a frozen
reference copy in both), temperature 1.0, fused AdamW (TRL's default ``adamw_torch_fused``) with lr 1e-6 and no
weight decay, gradient clipping 1.0, the same format + accuracy + length rewards; one generation batch and one
optimiser step per training step in both, fp32, no gradient checkpointing in either (TRL turns it on by default:
``--trl-gradient-checkpointing`` measures that default). Each framework runs in its own subprocess (so peak memory
is its own), for ``--rounds`` rounds in ABBA order (drift on a shared machine cancels); per step it reports wall time
and process CPU time after ``--warmup`` steps (CPU time is steadier when other jobs share the cores), completions/s
by either clock, the completion length and peak memory (CPU: peak RSS of the process and its growth over the RSS
before training; CUDA: ``torch.cuda.max_memory_allocated``), and ervlight's logged step-time breakdown. Figures
are medians over steps, then over rounds; the 1-minute load average is printed with them.

TRL is a benchmark-only dependency: ``pip install -e .[bench]`` (``trl==1.16.0``). Run::

    OMP_NUM_THREADS=1 python benchmarks/grpo_step.py                     # CPU, the default tiny setting
    python benchmarks/grpo_step.py --device cuda --hidden 512 --layers 8 --completion-length 256
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Any

import torch

PROMPTS = [
    ("Describe a face that smiles and laughs.", "happy"),
    ("Describe a face with tears and a trembling voice.", "sad"),
    ("Describe a face that shouts with lowered brows.", "angry"),
    ("Describe a calm face with a steady voice.", "neutral"),
    ("Describe a face with wide eyes and a gasp.", "surprise"),
    ("Describe a face that wrinkles its nose.", "disgust"),
    ("Describe a face that trembles and looks away.", "fear"),
    ("Describe a face that grins at a friend.", "happy"),
]
CORPUS = [
    "<think>The person smiles and laughs loudly.</think>\n<answer>happy</answer>",
    "<think>Her voice trembles and tears run down.</think>\n<answer>sad</answer>",
    "<think>He shouts and his brows are lowered.</think>\n<answer>angry</answer>",
] + [prompt for prompt, _ in PROMPTS]


#: ervlight's logged step-time parts (wall seconds), collected per step in the ervlight worker.
PARTS = ("generation", "rewards", "reference", "policy")
BREAKDOWN: dict[str, list[float]] = {}


class LengthReward:
    """A dense reward: completion length in characters / 100, capped at 1 (so groups have variance)."""

    name = "length"

    def __call__(self, inputs: Any) -> torch.Tensor:
        """``[N]`` rewards."""
        return torch.tensor([min(len(text) / 100, 1.0) for text in inputs.completions])


def _rss_kib() -> int:
    """Current resident set size in KiB (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _build(args: argparse.Namespace) -> tuple[Any, Any, list[str]]:
    """The tokenizer, the seeded model and the templated prompt texts."""
    from ervlight.policy import DEFAULT_CHAT_TEMPLATE, tiny_qwen2, train_bpe_tokenizer

    tokenizer = train_bpe_tokenizer(CORPUS * 20, vocab_size=args.vocab)
    torch.manual_seed(0)
    model = tiny_qwen2(
        tokenizer, hidden_size=args.hidden, num_layers=args.layers, num_heads=args.heads,
        num_kv_heads=max(1, args.heads // 2), intermediate_size=4 * args.hidden,
    )  # fmt: skip
    texts = [DEFAULT_CHAT_TEMPLATE.format(instruction=prompt) for prompt, _ in PROMPTS]
    return tokenizer, model.to(args.device), texts


def _ervlight_rewards() -> list[Any]:
    """The reward functions both frameworks score with."""
    from ervlight.rewards import AccuracyReward, FormatReward

    return [FormatReward(), AccuracyReward(), LengthReward()]


def run_ervlight(
    args: argparse.Namespace, step_times: list[tuple[float, float]], lengths: list[float]
) -> None:
    """Fit GRPOModule for warmup + steps with a Lightning Trainer."""
    from lightning.pytorch import Callback, Trainer
    from torch.utils.data import DataLoader

    from ervlight.grpo import PromptBatch
    from ervlight.policy import CausalLMPolicy
    from ervlight.tasks import GRPOModule

    tokenizer, model, _ = _build(args)
    policy = CausalLMPolicy(model, tokenizer)
    rewards = [{"name": "format"}, {"name": "accuracy"}, {"class_path": f"{__name__}.LengthReward"}]
    module = GRPOModule(
        policy, rewards=rewards, num_generations=args.group, max_completion_length=args.completion_length,
        temperature=1.0, loss_type="grpo", beta=0.04, max_grad_norm=1.0, log_completions_steps=0,
        datasets=["dfew"], policy_dir=tempfile.mkdtemp(), optimizer=partial(
            torch.optim.AdamW, lr=1e-6, weight_decay=0.0, fused=True
        ),  # TRL's default optimizer: adamw_torch_fused, no weight decay
    )  # fmt: skip
    rows = [(prompt, label) for prompt, label in PROMPTS] * 64

    def collate(batch: list[tuple[str, str]]) -> PromptBatch:
        return PromptBatch([p for p, _ in batch], [label for _, label in batch], ["dfew"] * len(batch))

    class Timer(Callback):
        def on_train_batch_start(self, *_: Any) -> None:
            self.start = _clocks()

        def on_train_batch_end(self, trainer: Trainer, *_: Any) -> None:
            _sync(args.device)
            step_times.append(_elapsed(self.start))
            metrics = trainer.callback_metrics
            lengths.append(float(metrics["completions/mean_length"]))
            for key in ("step_time", *(f"step_time/{part}" for part in PARTS)):
                BREAKDOWN.setdefault(key, []).append(float(metrics[key]))

    trainer = Trainer(
        accelerator="gpu" if args.device == "cuda" else "cpu", devices=1, max_steps=args.warmup + args.steps,
        logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
        limit_val_batches=0, num_sanity_val_steps=0, callbacks=[Timer()],
    )  # fmt: skip
    loader = DataLoader(rows, batch_size=args.prompts, shuffle=False, collate_fn=collate)  # type: ignore[arg-type]
    trainer.fit(module, train_dataloaders=loader)


def run_trl(args: argparse.Namespace, step_times: list[tuple[float, float]], lengths: list[float]) -> None:
    """Train TRL's GRPOTrainer for warmup + steps on the same model, prompts and rewards."""
    from datasets import Dataset
    from transformers import TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    from ervlight.rewards.base import RewardInputs

    tokenizer, model, texts = _build(args)
    folder = tempfile.mkdtemp()  # TRL builds its reference model from the policy's folder
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)

    def wrap(function: Any) -> Any:
        def reward(prompts: list[str], completions: list[str], label: list[str], **_: Any) -> list[float]:
            scores: list[float] = function(
                RewardInputs(list(completions), list(label), ["dfew"] * len(label))
            ).tolist()
            return scores

        reward.__name__ = function.name
        return reward

    class Timer(TrainerCallback):  # type: ignore[misc]
        def on_step_begin(self, *_: Any, **__: Any) -> None:
            self.start = _clocks()

        def on_step_end(self, *_: Any, **__: Any) -> None:
            _sync(args.device)
            step_times.append(_elapsed(self.start))

        def on_log(
            self, _args: Any, _state: Any, _control: Any, logs: dict[str, float] | None = None, **__: Any
        ) -> None:
            if logs and "completions/mean_length" in logs:
                lengths.append(float(logs["completions/mean_length"]))

    config = GRPOConfig(
        output_dir=tempfile.mkdtemp(), per_device_train_batch_size=args.prompts * args.group,
        num_generations=args.group, max_completion_length=args.completion_length, temperature=1.0, top_p=1.0,
        beta=0.04, loss_type="grpo", scale_rewards="group", learning_rate=1e-6, lr_scheduler_type="constant",
        max_grad_norm=1.0, gradient_accumulation_steps=1, max_steps=args.warmup + args.steps, logging_steps=1,
        gradient_checkpointing=args.trl_gradient_checkpointing, save_strategy="no", report_to="none",
        use_cpu=args.device == "cpu", bf16=False, disable_dropout=True,
        dataloader_num_workers=0, seed=0,
    )  # fmt: skip
    data = Dataset.from_list(
        [{"prompt": text, "label": label} for text, (_, label) in zip(texts, PROMPTS, strict=True)] * 64
    )
    trainer = GRPOTrainer(
        model=folder, reward_funcs=[wrap(f) for f in _ervlight_rewards()], args=config, train_dataset=data,
        processing_class=tokenizer, callbacks=[Timer()],
    )  # fmt: skip
    trainer.train()


def _clocks() -> tuple[float, float]:
    """``(wall, process CPU)`` seconds now."""
    return time.perf_counter(), time.process_time()


def _elapsed(start: tuple[float, float]) -> tuple[float, float]:
    """``(wall, process CPU)`` seconds since ``start``."""
    wall, cpu = _clocks()
    return wall - start[0], cpu - start[1]


def _sync(device: str) -> None:
    """Wait for the GPU so step times are real."""
    if device == "cuda":
        torch.cuda.synchronize()


def worker(args: argparse.Namespace) -> None:
    """Run one framework in this process and print its figures as JSON."""
    torch.set_num_threads(args.threads)
    step_times: list[tuple[float, float]] = []
    lengths: list[float] = []
    baseline = _rss_kib()
    if args.device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    (run_ervlight if args.framework == "ervlight" else run_trl)(args, step_times, lengths)
    wall = statistics.median(t[0] for t in step_times[args.warmup :])
    cpu = statistics.median(t[1] for t in step_times[args.warmup :])
    completions = args.prompts * args.group
    mean_length = statistics.mean(lengths[args.warmup :] or lengths or [float("nan")])
    result = {
        "framework": args.framework,
        "step_s": wall,
        "step_cpu_s": cpu,
        "completions_per_s": completions / wall,
        "completions_per_cpu_s": completions / cpu,
        "mean_length": mean_length,
        "tokens_per_s": completions * mean_length / wall,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "rss_growth_mib": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - baseline) / 1024,
    }
    result |= {key: statistics.median(values[args.warmup :]) for key, values in BREAKDOWN.items()}
    if args.device == "cuda":
        result["cuda_peak_mib"] = torch.cuda.max_memory_allocated() / 2**20
    print("RESULT " + json.dumps(result))


def _options(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--framework", choices=["ervlight", "trl"], help="run one framework (internal)")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--prompts", type=int, default=4, help="prompts per step (B)")
    parser.add_argument("--group", type=int, default=4, help="completions per prompt (G)")
    parser.add_argument("--completion-length", type=int, default=64, help="max new tokens")
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--vocab", type=int, default=1024)
    parser.add_argument("--warmup", type=int, default=2, help="untimed first steps")
    parser.add_argument("--steps", type=int, default=4, help="timed steps")
    parser.add_argument(
        "--rounds", type=int, default=4, help="rounds of both frameworks (order alternating ABBA)"
    )
    parser.add_argument("--threads", type=int, default=1, help="torch threads per run")
    parser.add_argument(
        "--trl-gradient-checkpointing",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="TRL's own default is on (recomputes activations in backward); off matches ervlight, which keeps them",
    )
    return parser.parse_args(argv)


def _flag(key: str, value: Any) -> str:
    """The command-line form of one option for the worker subprocess."""
    name = key.replace("_", "-")
    if isinstance(value, bool):
        return f"--{name}" if value else f"--no-{name}"
    return f"--{name}={value}"


def _run_round(framework: str, passthrough: list[str]) -> dict[str, float]:
    """One framework in its own subprocess; its RESULT line."""
    done = subprocess.run(
        [sys.executable, __file__, "--framework", framework, *passthrough],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        raise RuntimeError(f"{framework} run failed:\n{done.stderr[-4000:]}")
    result: dict[str, float] = json.loads(line[len("RESULT ") :])
    return result


def main(argv: list[str] | None = None) -> None:
    """Alternate both frameworks in subprocesses and print the side-by-side table and the ratios."""
    args = _options(argv)
    if args.framework is not None:
        worker(args)
        return
    settings = {k: v for k, v in vars(args).items() if k not in ("framework", "rounds")}
    passthrough = [_flag(key, value) for key, value in settings.items()]
    results: dict[str, list[dict[str, float]]] = {"ervlight": [], "trl": []}
    loads = [os.getloadavg()[0]]
    for round_index in range(args.rounds):
        order = ("ervlight", "trl") if round_index % 2 == 0 else ("trl", "ervlight")  # ABBA: drift cancels
        for framework in order:
            results[framework].append(_run_round(framework, passthrough))
            loads.append(os.getloadavg()[0])
            print(f"round {round_index + 1} {framework}: {results[framework][-1]}", flush=True)
    setting = f"B={args.prompts} G={args.group} L={args.completion_length} hidden={args.hidden} layers={args.layers}"
    print(
        f"\n{setting} device={args.device} threads={args.threads}; medians of {args.rounds} rounds x {args.steps} "
        f"steps; 1-min load average {min(loads):.2f}-{max(loads):.2f} on {os.cpu_count()} CPUs"
    )
    keys = [
        "completions_per_s",
        "completions_per_cpu_s",
        "tokens_per_s",
        "step_s",
        "step_cpu_s",
        "mean_length",
    ]
    keys += ["peak_rss_mib", "rss_growth_mib"] + (["cuda_peak_mib"] if args.device == "cuda" else [])
    summary = {fw: {k: statistics.median(r[k] for r in rows) for k in keys} for fw, rows in results.items()}
    print(f"{'':24}{'ervlight':>12}{'trl 1.16':>12}{'ratio':>10}")
    for key in keys:
        ours, theirs = summary["ervlight"][key], summary["trl"][key]
        print(f"{key:24}{ours:12.3f}{theirs:12.3f}{ours / theirs:10.2f}")
    print("ervlight step breakdown (median wall s):")
    for key in ("step_time", *(f"step_time/{part}" for part in PARTS)):
        print(f"  {key:22}{statistics.median(r[key] for r in results['ervlight']):10.3f}")


if __name__ == "__main__":
    main()
