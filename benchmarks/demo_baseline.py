"""Is the demo corpus learnable but not trivial? Logistic-regression baselines on video alone, audio alone and both.

Reads a corpus written by ``ervlight data make-demo`` through the project's readers and decoder, and fits a
multinomial logistic regression (L2, standardised features) on each fold's TRAIN split, scoring its TEST split:

* video — 8 uniformly sampled frames, grey, average-pooled to 16x16: the late frames (expression apex) and their
  difference from the first frame (expression change);
* audio — 64-bin log-mel: mean and spread over the louder (voiced) frames, mean absolute change, and the
  autocorrelation of the loudness envelope (syllable rate);
* both — the two models' log-probabilities summed (late fusion);
* with ``--cnn``, also a small CNN on video alone (64x64 grey maps of the first frame, the late frames and their
  difference; random shifts as augmentation), a translation-robust reader of the face.

``--ceiling`` adds the same regression on the generator's own parameters from ``manifest.json`` (action-unit
intensities of the face, prosody of the voice): how much label information each modality carries before any
rendering, i.e. what a perfect face/voice reader could reach.

Prints accuracy (WAR) and UAR per dataset and modality with the chance level, for fold 1 (the demo's evaluation
fold) and, with ``--all-folds``, the mean over the five folds. Example::

    ervlight data make-demo --out /tmp/demo --size small
    python benchmarks/demo_baseline.py --root /tmp/demo --all-folds
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import torch
import torchaudio
from tqdm.auto import tqdm

from ervlight.data.clip_decoder import ClipDecoder
from ervlight.data.readers.dfew import read_dfew
from ervlight.data.readers.mafw import read_mafw
from ervlight.data.records import ClipRecord
from ervlight.demo.profiles import action_unit_vector, blend_prosody
from ervlight.labels import get_label_space

_MEL = torchaudio.transforms.MelSpectrogram(16000, n_fft=512, hop_length=160, n_mels=64)


def video_maps(frames: torch.Tensor) -> np.ndarray:
    """CNN input ``[3, 64, 64]``: first frame, mean of the late frames, and their (amplified) difference."""
    grey = frames.float().mean(-1, keepdim=True).permute(0, 3, 1, 2) / 255  # [T, 1, H, W]
    small = torch.nn.functional.adaptive_avg_pool2d(grey, 64)[:, 0]  # [T, 64, 64]
    first, late = small[0], small[small.shape[0] // 2 :].mean(0)
    return torch.stack([first, late, 4 * (late - first)]).numpy()


def cnn_predict(
    train: np.ndarray, labels: np.ndarray, test: np.ndarray, classes: int, epochs: int
) -> np.ndarray:
    """Train a small CNN on ``[N, 3, 64, 64]`` maps (AdamW, random shifts); test log-probabilities [N, C]."""
    generator = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 16, 5, padding=2), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(16, 32, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(32, 32, 3, padding=1), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(4),
        torch.nn.Flatten(), torch.nn.Dropout(0.3), torch.nn.Linear(512, classes),
    )  # fmt: skip
    optimiser = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-3)
    x, y = torch.tensor(train), torch.tensor(labels)
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(x), generator=generator)
        for start in range(0, len(x), 32):
            batch = order[start : start + 32]
            shift = [int(s) for s in torch.randint(-4, 5, (2,), generator=generator)]
            images = torch.roll(x[batch], shift, (2, 3))  # [B, 3, 64, 64]
            loss = torch.nn.functional.cross_entropy(model(images), y[batch])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    model.eval()
    with torch.no_grad():
        return torch.log_softmax(model(torch.tensor(test)), -1).numpy()


def video_features(frames: torch.Tensor) -> np.ndarray:
    """Pooled grey pixels of the late frames and their change from the first frame; ``frames`` uint8 [T, H, W, 3]."""
    grey = frames.float().mean(-1, keepdim=True).permute(0, 3, 1, 2) / 255  # [T, 1, H, W]
    small = torch.nn.functional.adaptive_avg_pool2d(grey, 16)[:, 0]  # [T, 16, 16]
    late = small[small.shape[0] // 2 :].mean(0)
    return torch.cat([late.flatten(), (late - small[0]).flatten()]).numpy()


def audio_features(audio: torch.Tensor) -> np.ndarray:
    """Log-mel statistics of the voiced frames plus the loudness-envelope autocorrelation; ``audio`` [S]."""
    mel = torch.log(_MEL(audio) + 1e-6).numpy()  # [64, frames]
    energy = mel.mean(0)
    voiced = mel[:, energy >= np.percentile(energy, 40)]
    change = np.abs(np.diff(mel, axis=1)).mean(1)
    envelope = energy - energy.mean()
    lags = np.correlate(envelope, envelope, "full")[len(envelope) - 1 :][:60]
    lags = lags / (lags[0] + 1e-6)
    return np.concatenate(
        [voiced.mean(1), voiced.std(1), change, lags[5:60:2], [energy.mean(), energy.std()]]
    )


def fit_predict(
    train: np.ndarray, labels: np.ndarray, test: np.ndarray, classes: int, l2: float
) -> np.ndarray:
    """Multinomial logistic regression (L-BFGS, L2) on standardised features; test log-probabilities [N, C]."""
    mean, std = train.mean(0), train.std(0) + 1e-6
    x = torch.tensor((train - mean) / std, dtype=torch.float32)
    x_test = torch.tensor((test - mean) / std, dtype=torch.float32)
    y = torch.tensor(labels)
    weight = torch.zeros(x.shape[1], classes, requires_grad=True)
    bias = torch.zeros(classes, requires_grad=True)
    optimiser = torch.optim.LBFGS([weight, bias], max_iter=300, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimiser.zero_grad()
        loss = torch.nn.functional.cross_entropy(x @ weight + bias, y) + l2 * weight.square().sum()
        loss.backward()
        return loss

    optimiser.step(closure)
    with torch.no_grad():
        return torch.log_softmax(x_test @ weight + bias, -1).numpy()


def scores(predicted: np.ndarray, gold: np.ndarray, classes: int) -> tuple[float, float]:
    """(WAR, UAR): accuracy and mean per-class recall over the classes present."""
    recalls = [float((predicted[gold == c] == c).mean()) for c in range(classes) if (gold == c).any()]
    return float((predicted == gold).mean()), float(np.mean(recalls))


def load(
    root: Path, dataset: str, decoder: ClipDecoder
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Features, labels and test fold of every clip of a dataset (each clip is in exactly one test fold)."""
    records: list[tuple[ClipRecord, int]] = []
    for fold in range(1, 6):
        reader = read_dfew if dataset == "dfew" else read_mafw
        listing = reader(root / dataset.upper(), "test", fold)
        if listing.missing or listing.invalid:
            raise SystemExit(
                f"{dataset} fold {fold}: {len(listing.missing)} missing, {len(listing.invalid)} invalid"
            )
        records += [(record, fold) for record in listing.records]
    space = get_label_space(dataset)
    video, audio, maps, ids = [], [], [], []
    for record, _ in tqdm(records, desc=f"decoding {dataset}", unit="clip"):
        clip = decoder.decode(record)
        video.append(video_features(clip.frames))
        audio.append(audio_features(clip.audio))
        maps.append(video_maps(clip.frames))
        ids.append(record.clip_id)
    labels = np.array([space.index(r.label) for r, _ in records])
    features = {"video": np.stack(video), "audio": np.stack(audio), "maps": np.stack(maps)}
    if (root / "manifest.json").is_file():
        features |= parameter_features(root, dataset, ids)
    return features, labels, np.array([f for _, f in records])


def parameter_features(root: Path, dataset: str, records_order: list[str]) -> dict[str, np.ndarray]:
    """Generator parameters per clip (from the manifest), in the order of ``records_order`` (clip ids)."""
    clips = {
        c["clip_id"]: c
        for c in json.loads((root / "manifest.json").read_text())["datasets"][dataset]["clips"]
    }
    face = [action_unit_vector(clips[i]["face"]) for i in records_order]
    voice = [np.array(dataclasses.astuple(blend_prosody(clips[i]["voice"]))) for i in records_order]
    return {"face-params": np.stack(face), "voice-params": np.stack(voice)}


def evaluate(features: dict[str, np.ndarray], labels: np.ndarray, folds: np.ndarray, fold: int, classes: int,
             l2: float, cnn_epochs: int, ceiling: bool) -> dict[str, tuple[float, float]]:  # fmt: skip
    """WAR/UAR of video, audio and both (and the video CNN when ``cnn_epochs``) on one fold's test split."""
    train, test = folds != fold, folds == fold
    logp = {
        m: fit_predict(features[m][train], labels[train], features[m][test], classes, l2)
        for m in ("video", "audio")
    }
    logp["both"] = logp["video"] + logp["audio"]
    if cnn_epochs:
        maps = features["maps"]
        logp["video-cnn"] = cnn_predict(maps[train], labels[train], maps[test], classes, cnn_epochs)
    if ceiling:
        for name in ("face-params", "voice-params"):
            logp[name] = fit_predict(
                features[name][train], labels[train], features[name][test], classes, 1e-3
            )
        logp["both-params"] = logp["face-params"] + logp["voice-params"]
    return {m: scores(p.argmax(1), labels[test], classes) for m, p in logp.items()}


def main() -> None:
    """Run the baselines and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--root", type=Path, required=True, help="a corpus written by `ervlight data make-demo`"
    )
    parser.add_argument("--all-folds", action="store_true", help="also report the mean over the 5 folds")
    parser.add_argument("--l2", type=float, default=0.05, help="L2 weight of the logistic regression")
    parser.add_argument("--ceiling", action="store_true", help="also fit on the generator's parameters")
    parser.add_argument(
        "--cnn", type=int, default=0, metavar="EPOCHS", help="also train the video CNN (e.g. 40)"
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    decoder = ClipDecoder(num_frames=8)
    folds_to_run = range(1, 6) if args.all_folds else range(1, 2)
    print(f"{'dataset':8} {'modality':12} {'chance':>7} {'fold-1 WAR':>10} {'fold-1 UAR':>10}", end="")
    print(f" {'5-fold WAR':>10} {'5-fold UAR':>10}" if args.all_folds else "")
    start = time.perf_counter()
    for dataset in ("dfew", "mafw"):
        features, labels, folds = load(args.root, dataset, decoder)
        classes = get_label_space(dataset).num_classes
        results = [
            evaluate(features, labels, folds, k, classes, args.l2, args.cnn, args.ceiling)
            for k in folds_to_run
        ]
        for modality in results[0]:
            war, uar = results[0][modality]
            line = f"{dataset:8} {modality:12} {1 / classes:7.3f} {war:10.3f} {uar:10.3f}"
            if args.all_folds:
                line += f" {np.mean([r[modality][0] for r in results]):10.3f}"
                line += f" {np.mean([r[modality][1] for r in results]):10.3f}"
            print(line)
    print(f"({time.perf_counter() - start:.1f} s: decoding, features and fits)")


if __name__ == "__main__":
    main()
