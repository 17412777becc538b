"""Decode benchmark: the DataModule's frames+audio path vs raw PyAV seek-and-decode vs decode-all-then-subsample.

Generates realistic clips (640x360 or larger, 25 fps, 3-6 s, textured panning background with moving shapes and
film grain, stereo AAC at 44.1/48 kHz) with :func:`ervlight.data.mp4_writer.write_mp4`, then measures samples/s of:

* ``datamodule`` — :class:`ervlight.data.dataset.ClipDataset` items as the DataModule builds them: 8 frames
  (segment middles) resized to 224 and normalised, the audio track at 16 kHz mono and its 128-bin log-mel;
* ``seek floor`` — raw PyAV: for each of the same 8 frames, seek to its timestamp, decode up to it, convert it to
  RGB (no audio, no resize): the floor the issue compares against;
* ``decode-all`` — decode every frame, convert each to RGB, keep the 8 (no audio).

All paths decode and convert single-threaded (as in DataLoader workers; swscale's own threads are off too). Run::

    OMP_NUM_THREADS=1 python benchmarks/decode.py [--clips 12] [--repeats 3] [--gop 1.0 10.0]

``--gop`` lists keyframe intervals in seconds to generate clips with (1 s: a seekable web-style encode; 10 s: a
single keyframe per clip, like FFmpeg's default keyint=250 on a short clip). Figures are medians over repeats.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
import torch

from ervlight.data.clip_decoder import ClipDecoder
from ervlight.data.dataset import ClipDataset
from ervlight.data.mp4_writer import write_mp4
from ervlight.data.records import ClipRecord
from ervlight.data.sampling import sample_frame_indices
from ervlight.data.transforms import DefaultPreprocessor

NUM_FRAMES = 8


def make_clip(path: Path, seconds: float, size: tuple[int, int], rate: int, gop: float, seed: int) -> Path:
    """A textured, panning, grainy 25 fps clip with a moving bright disc and a stereo voice-like tone."""
    rng = np.random.default_rng(seed)
    height, width = size
    count = round(seconds * 25)
    texture = rng.integers(0, 256, (height // 8 + 2, width // 8 + 40, 3), dtype=np.uint8)
    texture = np.kron(texture, np.ones((8, 8, 1), np.uint8))  # blocky texture, panned below
    yy, xx = np.mgrid[0:height, 0:width]
    frames = np.empty((count, height, width, 3), np.uint8)
    for t in range(count):
        shift = (2 * t) % (texture.shape[1] - width)
        frame = texture[:height, shift : shift + width].astype(np.int16)
        cx, cy = width / 2 + width / 4 * np.sin(t / 15), height / 2 + height / 5 * np.cos(t / 11)
        disc = (xx - cx) ** 2 + (yy - cy) ** 2 < (height / 5) ** 2
        frame[disc] = (frame[disc] // 4 + (200, 160, 140)).clip(0, 255)
        frame += rng.integers(-6, 7, frame.shape, dtype=np.int16)  # film grain
        frames[t] = frame.clip(0, 255).astype(np.uint8)
    samples = np.arange(round(seconds * rate)) / rate
    voice = (
        0.3
        * np.sin(2 * np.pi * (180 + 40 * np.sin(samples * 3)) * samples)
        * (0.6 + 0.4 * np.sin(samples * 7))
    )
    audio = np.stack([voice, 0.8 * voice]).astype(np.float32) + rng.normal(0, 0.01, (2, samples.size)).astype(
        np.float32
    )
    return write_mp4(path, frames, 25, audio, rate, keyframe_interval_s=gop, preset="medium")


def seek_floor(path: Path) -> list[np.ndarray]:
    """Raw PyAV: seek to each target frame's timestamp and decode up to it (RGB, full size)."""
    out = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.codec_context.thread_count = 1
        targets = sample_frame_indices(stream.frames, NUM_FRAMES)[0]
        base = stream.start_time or 0
        for index in targets:
            pts = base + round(index / float(stream.average_rate) / float(stream.time_base))
            container.seek(pts, stream=stream, backward=True)
            for frame in container.decode(stream):
                if frame.pts is not None and frame.pts >= pts:
                    out.append(frame.to_ndarray(format="rgb24", threads=1))
                    break
    return out


def decode_all(path: Path) -> list[np.ndarray]:
    """Decode and convert every frame, then keep the sampled ones."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.codec_context.thread_count = 1
        frames = [frame.to_ndarray(format="rgb24", threads=1) for frame in container.decode(stream)]
    return [frames[i] for i in sample_frame_indices(len(frames), NUM_FRAMES)[0]]


def rates(
    functions: dict[str, Callable[[Path], object]], paths: list[Path], repeats: int
) -> dict[str, tuple[float, float]]:
    """Median samples per wall second and per CPU second of each function over ``repeats`` passes on ``paths``.

    The functions take turns within each repeat, so load changes on a shared machine hit all of them alike; the
    CPU-second figure (this process's CPU time; every path is single-threaded) is the stable one under contention.
    """
    speeds: dict[str, list[tuple[float, float]]] = {name: [] for name in functions}
    for (
        function
    ) in functions.values():  # warm-up: first-call costs (mel filters, transforms) are not measured
        function(paths[0])
    for _ in range(repeats):
        for name, function in functions.items():
            wall, cpu = time.perf_counter(), time.process_time()
            for path in paths:
                function(path)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            speeds[name].append((len(paths) / wall, len(paths) / cpu))
    return {
        name: (statistics.median(w for w, _ in values), statistics.median(c for _, c in values))
        for name, values in speeds.items()
    }


def main() -> None:
    """Generate clips, check the three paths agree on which frames they read, print samples/s."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", type=int, default=12)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--gop", type=float, nargs="+", default=[1.0, 10.0], help="keyframe intervals (s)")
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=360)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(
        f"torch threads 1, decoders single-threaded; {args.clips} clips of {args.width}x{args.height}, 25 fps"
    )
    with tempfile.TemporaryDirectory() as folder:
        for gop in args.gop:
            start = time.perf_counter()
            paths = [
                make_clip(Path(folder) / f"gop{gop}_{i}.mp4", 3 + 3 * i / max(1, args.clips - 1),
                          (args.height, args.width), (44100, 48000)[i % 2], gop, i)
                for i in range(args.clips)
            ]  # fmt: skip
            made = time.perf_counter() - start
            for path in paths[:2]:
                floor_frames, all_frames = seek_floor(path), decode_all(path)
                assert all(np.array_equal(a, b) for a, b in zip(floor_frames, all_frames, strict=True))
            sizes = [p.stat().st_size / 1e6 for p in paths]
            print(
                f"\nkeyframe every {gop:g} s ({made:.1f} s to encode; {statistics.mean(sizes):.2f} MB per clip)"
            )
            report(paths, args.repeats)


def report(paths: list[Path], repeats: int) -> None:
    """Measure and print the paths on one set of clips."""
    records = [ClipRecord(p.stem, "dfew", "happy", "test", video=p, audio=p) for p in paths]
    full = ClipDataset(records, ClipDecoder(NUM_FRAMES), DefaultPreprocessor(224), sampling="middle")
    silent = ClipDataset(
        records, ClipDecoder(NUM_FRAMES, audio=False), DefaultPreprocessor(224, audio_features=False)
    )
    index = {path: i for i, path in enumerate(paths)}
    functions: dict[str, Callable[[Path], object]] = {
        "datamodule: 8 frames @224 + 16 kHz audio + log-mel": lambda p: full[index[p]],
        "datamodule: 8 frames @224, audio off": lambda p: silent[index[p]],
        "raw PyAV seek-and-decode floor: 8 frames, RGB": seek_floor,
        "decode-all-then-subsample: RGB": decode_all,
    }
    results = rates(functions, paths, repeats)
    print(f"  {'path':52s} {'samples/s':>10s} {'samples/CPU-s':>14s}")
    for name, (wall, cpu) in results.items():
        print(f"  {name:52s} {wall:10.1f} {cpu:14.1f}")
    (audio_wall, audio_cpu), (silent_wall, silent_cpu), (floor_wall, floor_cpu), (all_wall, all_cpu) = (
        results.values()
    )
    for label, wall, cpu in (("with audio", audio_wall, audio_cpu), ("audio off", silent_wall, silent_cpu)):
        print(
            f"  datamodule ({label}): {wall / floor_wall:.2f}x / {cpu / floor_cpu:.2f}x the floor, "
            f"{wall / all_wall:.2f}x / {cpu / all_cpu:.2f}x decode-all (wall / CPU)"
        )


if __name__ == "__main__":
    main()
