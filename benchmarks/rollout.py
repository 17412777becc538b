"""Rollout throughput of TinyOmni: media encoded once per prompt vs re-encoded per completion (the R1-Omni way).

One GRPO rollout = sample ``G`` completions per prompt, then score them twice (old policy and reference; both
log-prob passes run without autograd here). "once": :meth:`encode` runs the towers on the ``B`` clips, the prompt
is prefilled once and its cache expanded to ``G``, and both log-prob passes reuse the same context (prompt run once,
its keys/values shared). "per completion": every clip is repeated ``G`` times and re-encoded for the generation and
again for each log-prob pass (as the reference trainer does). Both paths produce the same completions for a seed
(tested), so the work differs only in the towers and the prompt passes. Prints completions/s and the ratio for a
demo media size and a larger one.

    OMP_NUM_THREADS=1 python benchmarks/rollout.py --threads 1      # both sizes
    python benchmarks/rollout.py --sizes large --repeats 5
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from ervlight.data.batch import MediaBatch
from ervlight.policy import SamplingConfig, TinyOmni


@dataclass(frozen=True)
class MediaSize:
    """A media configuration: frames per clip, frame side, tower input side, audio seconds."""

    frames: int
    side: int
    tower_side: int
    seconds: float


SIZES = {
    "demo": MediaSize(frames=8, side=64, tower_side=64, seconds=3.0),
    "large": MediaSize(frames=16, side=224, tower_side=224, seconds=10.0),
}


def make_batch(size: MediaSize, prompts: int, seed: int = 0) -> MediaBatch:
    """A batch of random clips of the given size (content does not matter for throughput)."""
    generator = torch.Generator().manual_seed(seed)
    samples = int(16000 * size.seconds)
    return MediaBatch(
        clip_ids=[str(i) for i in range(prompts)],
        datasets=["dfew"] * prompts,
        labels=torch.zeros(prompts, dtype=torch.long),
        label_names=["neutral"] * prompts,
        frames=torch.rand(prompts, size.frames, 3, size.side, size.side, generator=generator) * 2 - 1,
        frame_mask=torch.ones(prompts, size.frames, dtype=torch.bool),
        audio=torch.randn(prompts, samples, generator=generator) * 0.1,
        audio_mask=torch.ones(prompts, samples, dtype=torch.bool),
        has_audio=torch.ones(prompts, dtype=torch.bool),
    )


def repeat_batch(batch: MediaBatch, times: int) -> MediaBatch:
    """Every clip repeated ``times`` times, adjacent (what a per-completion pipeline feeds its towers)."""

    def rep(t: torch.Tensor) -> torch.Tensor:
        return t.repeat_interleave(times, dim=0)

    return MediaBatch(
        clip_ids=[c for c in batch.clip_ids for _ in range(times)],
        datasets=[d for d in batch.datasets for _ in range(times)],
        labels=rep(batch.labels),
        label_names=[n for n in batch.label_names for _ in range(times)],
        frames=rep(batch.frames),
        frame_mask=rep(batch.frame_mask),
        audio=rep(batch.audio),
        audio_mask=rep(batch.audio_mask),
        has_audio=rep(batch.has_audio),
    )


def rollout_once(policy: TinyOmni, batch: MediaBatch, group: int, sampling: SamplingConfig, seed: int) -> int:
    """Encode once, sample G per prompt, two log-prob passes on the same context; returns completions made."""
    context = policy.encode(batch)
    out = policy.generate(context, group, sampling, torch.Generator().manual_seed(seed))
    for _ in range(2):  # policy and reference
        policy.completion_logprobs(context, out.completion_ids, out.completion_mask, group)
    return out.completion_ids.shape[0]


def rollout_per_completion(
    policy: TinyOmni, batch: MediaBatch, group: int, sampling: SamplingConfig, seed: int
) -> int:
    """Re-encode every clip for each completion, for the generation and again for each log-prob pass."""
    repeated = repeat_batch(batch, group)
    out = policy.generate(policy.encode(repeated), 1, sampling, torch.Generator().manual_seed(seed))
    for _ in range(2):
        policy.completion_logprobs(policy.encode(repeated), out.completion_ids, out.completion_mask, 1)
    return out.completion_ids.shape[0]


def measure(run: Callable[[int], int], repeats: int) -> tuple[float, float]:
    """Median and spread (min..max half-range) of completions/s over ``repeats`` runs after one warm-up."""
    run(0)
    rates = []
    for i in range(repeats):
        start = time.perf_counter()
        made = run(i + 1)
        rates.append(made / (time.perf_counter() - start))
    return statistics.median(rates), (max(rates) - min(rates)) / 2


def bench(size_name: str, args: argparse.Namespace) -> tuple[float, float]:
    """Print and return completions/s of both paths for one media size."""
    size = SIZES[size_name]
    torch.manual_seed(0)
    policy = TinyOmni(image_size=size.tower_side, max_frames=size.frames, vocab_size=args.vocab).eval()
    batch = make_batch(size, args.prompts)
    sampling = SamplingConfig(max_new_tokens=args.max_new_tokens, temperature=1.0)
    with torch.no_grad():
        once, once_err = measure(lambda s: rollout_once(policy, batch, args.group, sampling, s), args.repeats)
        again, again_err = measure(
            lambda s: rollout_per_completion(policy, batch, args.group, sampling, s), args.repeats
        )
        context = policy.encode(batch)
        start = time.perf_counter()
        policy.encode(batch)
        encode_ms = 1000 * (time.perf_counter() - start)
    print(
        f"{size_name:>5}  T={size.frames:<2} {size.side}px {size.seconds:>4.1f}s audio"
        f"  prompt P={context.embeds.shape[1]}"
        f"  encode(B={args.prompts}) {encode_ms:7.1f} ms  |  once {once:7.1f} ± {once_err:.1f} compl/s"
        f"  per-completion {again:7.1f} ± {again_err:.1f} compl/s  |  ratio {once / again:5.2f}x"
    )
    return once, again


def main() -> None:
    """Run the benchmark for the chosen media sizes."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", nargs="+", default=list(SIZES), choices=list(SIZES))
    parser.add_argument("--prompts", type=int, default=4, help="prompts per rollout (B)")
    parser.add_argument("--group", type=int, default=8, help="completions per prompt (G)")
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--vocab", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: leave the default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(
        f"TinyOmni rollout: B={args.prompts} prompts x G={args.group}, up to {args.max_new_tokens} new tokens, "
        f"generation + 2 log-prob passes, torch threads={torch.get_num_threads()}"
    )
    ratios = [once / again for once, again in (bench(name, args) for name in args.sizes)]
    print(f"geometric-mean ratio {math.prod(ratios) ** (1 / len(ratios)):.2f}x")


if __name__ == "__main__":
    main()
