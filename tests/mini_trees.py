"""Builders and constants of the miniature test trees (imported by ``conftest.py`` and by tests that need exact
counts). A plain module, not a conftest, so ``from mini_trees import …`` resolves the same in every collection order."""

from __future__ import annotations

import json
import math
import shutil
import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from ervlight.data.mp4_writer import write_mp4
from ervlight.data.readers.r1omni import R1OMNI_QUESTION
from ervlight.parsing import format_target

FRAME_SIZE = (48, 64)  # (H, W) of every generated mp4

#: DFEW-mini: id -> (official label 1..7, frames in clip_224x224 (0 = no folder), fps, audio (channels, rate), mp4?)
DFEW_CLIPS: dict[int, tuple[int, int, int, tuple[int, int], bool]] = {
    1: (1, 11, 25, (1, 16000), True),
    2: (2, 105, 25, (2, 44100), True),
    3: (3, 20, 24, (1, 16000), True),
    4: (4, 21, 25, (2, 44100), True),
    5: (5, 22, 24, (1, 16000), True),
    6: (6, 23, 25, (1, 16000), True),
    7: (7, 24, 25, (2, 44100), True),
    8: (1, 25, 24, (1, 16000), True),
    9: (2, 26, 25, (1, 16000), True),
    10: (3, 27, 25, (2, 44100), True),
    11: (6, 28, 25, (1, 16000), False),
    12: (4, 0, 25, (1, 16000), True),
}
DFEW_SECONDS = 2.0


def dfew_test_fold(clip_id: int) -> int:
    """The one fold (1..5) whose test CSV lists a DFEW-mini clip."""
    return (clip_id - 1) % 5 + 1


#: MAFW-mini: id -> (single label, compound label (None = not in the compound set), seconds, audio track?)
MAFW_CLIPS: dict[str, tuple[str, str | None, float, bool]] = {
    "00019": ("happiness", "happiness", 2.0, True),
    "00025": ("anger", "anger_disgust", 3.0, True),
    "00903": ("neutral", "neutral", 2.0, False),
    "01234": ("fear", "fear_surprise_anxiety", 2.5, True),
    "03747": ("anger", "anger", 4.0, True),
    "05120": ("sadness", "sadness_helplessness", 2.0, True),
    "07777": ("surprise", "surprise", 2.0, True),
    "10001": ("contempt", None, 2.0, True),
    "12345": ("anxiety", "anxiety", 3.0, True),
    "15120": ("helplessness", "helplessness", 2.0, True),
    "18000": ("disappointment", "disappointment", 5.0, True),
    "20045": ("disgust", "disgust", 2.0, True),
    "20098": ("neutral", "neutral", 2.0, True),
}
MAFW_FPS = 25
MAFW_FRAMES_IN_FOLDER = 12  # PNGs per data/frames/<id>/ (20098 has none)
MAFW_CAPTIONS = {  # (zh, en); neutral clips have no caption
    "00019": ("一个女人笑着拥抱她的朋友。", "A woman hugs her friend with a wide smile."),
    "00025": ("一个男人对面前的人激动地说话。", "A man speaks excitedly to the man in front of him."),
    "01234": ("一个女孩睁大眼睛后退。", "A girl steps back with wide open eyes."),
    "03747": ("一个男人皱着眉头大声喊叫。", "A man shouts with a deep frown."),
    "05120": ("一个老人低着头慢慢走开。", "An old man walks away slowly with his head down."),
    "07777": ("一个男孩张大嘴巴看着门口。", "A boy looks at the door with his mouth open."),
    "10001": ("一个女人斜眼看着对方并撇嘴。", "A woman glances sideways and curls her lip."),
    "12345": ("一个男人不停地搓手并四处张望。", "A man keeps rubbing his hands and looking around."),
    "15120": ("一个女人摊开双手叹气。", "A woman spreads her hands and sighs."),
    "18000": ("一个男孩看着成绩单垂下肩膀。", "A boy looks at the report card and drops his shoulders."),
    "20045": ("一个女人捂住鼻子转过头。", "A woman covers her nose and turns her head away."),
}


def mafw_test_fold(clip_id: str) -> int:
    """The one fold (1..5) whose test list holds a MAFW-mini clip."""
    return sorted(MAFW_CLIPS).index(clip_id) % 5 + 1


#: R1-Omni / EMER fixture: video path (relative to the JSON folder) -> (answer word, rationale)
R1OMNI_RECORDS: dict[str, tuple[str, str]] = {
    "MAFW/videos/00025.mp4": ("angry", "The man raises his voice. His brows are drawn together."),
    "MAFW/videos/10001.mp4": ("contemptuous", "She glances sideways and curls her lip."),
    "MAFW/videos/12345.mp4": ("anxious", "He keeps rubbing his hands. His eyes dart around the room."),
    "DFEW/videos/1.mp4": ("happy", "She smiles widely and her eyes crinkle."),
    "DFEW/videos/6.mp4": ("disgust", "He wrinkles his nose and turns away."),
    "DFEW/videos/2.mp4": ("sad", "Her head hangs low and her voice trembles."),
}


def frame_code(t: int) -> tuple[int, int, int]:
    """The flat RGB colour of frame ``t`` (t < 484): red and green encode the index in steps that survive H.264."""
    return 20 + 10 * (t % 22), 20 + 10 * (t // 22), 128


def decode_frame_code(image: np.ndarray) -> int:
    """The frame index encoded by :func:`frame_code` in an ``[H, W, 3]`` uint8 image (centre pixels averaged)."""
    h, w = image.shape[:2]
    red, green = image[h // 4 : 3 * h // 4, w // 4 : 3 * w // 4, :2].reshape(-1, 2).mean(axis=0)
    return round((red - 20) / 10) + 22 * round((green - 20) / 10)


def coded_frames(count: int, size: tuple[int, int] = FRAME_SIZE) -> np.ndarray:
    """``uint8 [count, H, W, 3]`` frames, frame ``t`` painted with :func:`frame_code` ``(t)``."""
    frames = np.empty((count, *size, 3), np.uint8)
    for t in range(count):
        frames[t] = frame_code(t)
    return frames


def tone(seconds: float, rate: int, channels: int = 1, hz: float = 440.0) -> np.ndarray:
    """A sine tone, ``[S]`` (mono) or ``[C, S]`` float32."""
    x = 0.4 * np.sin(2 * math.pi * hz * np.arange(round(seconds * rate)) / rate).astype(np.float32)
    return x if channels == 1 else np.stack([x] * channels)


def write_clip(path: Path, seconds: float, fps: int, audio: tuple[int, int] | None) -> Path:
    """A coded mp4 of ``seconds`` at ``fps``; ``audio`` = (channels, rate) or ``None`` for no audio track."""
    frames = coded_frames(round(seconds * fps))
    waveform = None if audio is None else tone(seconds, audio[1], audio[0])
    return write_mp4(path, frames, fps, waveform, audio[1] if audio else 16000)


def write_wav(path: Path, seconds: float, rate: int = 16000) -> None:
    """A mono s16 WAV tone (the HiCMAE ``audio_16k`` files)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pcm = (tone(seconds, rate) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm.tobytes())


def write_image_folder(folder: Path, count: int, name: Callable[[int], str], size: int) -> None:
    """``count`` coded frames as images ``folder/name(i)`` (format from the suffix), numbered from 1."""
    folder.mkdir(parents=True, exist_ok=True)
    for t in range(count):
        Image.new("RGB", (size, size), frame_code(t)).save(folder / name(t + 1))


def build_dfew(root: Path) -> Path:
    """Write DFEW-mini under ``root/DFEW`` (see the module docstring)."""
    dfew = root / "DFEW"
    for clip_id, (_, n_frames, fps, audio, has_mp4) in DFEW_CLIPS.items():
        padded = f"{clip_id:05d}"
        if has_mp4:
            write_clip(dfew / "Clip" / "original" / f"{padded}.mp4", DFEW_SECONDS, fps, audio)
        if n_frames:
            odd = clip_id % 2 == 1
            frame_name = (lambda i: f"{i}.jpg") if odd else (lambda i, p=padded: f"{p}_{i}.jpg")
            write_image_folder(dfew / "Clip" / "clip_224x224" / padded, n_frames, frame_name, 224)
            write_image_folder(dfew / "Clip" / "clip_224x224_16f" / padded, 16, lambda i: f"{i}.jpg", 224)
    splits = dfew / "EmoLabel_DataSplit"
    for fold in range(1, 6):
        for split in ("train", "test"):
            ids = [i for i in DFEW_CLIPS if (dfew_test_fold(i) == fold) == (split == "test")]
            rows = [f"{i:05d}" if split == "test" else str(i) for i in ids]
            lines = ["video_name,label", *(f"{r},{DFEW_CLIPS[i][0]}" for r, i in zip(rows, ids, strict=True))]
            path = splits / f"{split}(single-labeled)" / f"set_{fold}.csv"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return dfew


def _mafw_rows(view: str, caption: bool, ids: list[str]) -> list[str]:
    """Split-file rows of one MAFW view for ``ids``."""
    rows = []
    for clip_id in ids:
        single, compound, _, _ = MAFW_CLIPS[clip_id]
        label = single if view == "single" else compound
        if label is None or (caption and clip_id not in MAFW_CAPTIONS):
            continue
        if caption:
            zh, en = MAFW_CAPTIONS[clip_id]
            rows.append(f"{clip_id}.mp4\t{label}\t{zh}\t{en}")
        else:
            rows.append(f"{clip_id}.mp4 {label}")
    return rows


def build_mafw(root: Path) -> Path:
    """Write MAFW-mini under ``root/MAFW`` (see the module docstring)."""
    mafw = root / "MAFW"
    for clip_id, (_, _, seconds, has_audio) in MAFW_CLIPS.items():
        write_clip(
            mafw / "data" / "clips" / f"{clip_id}.mp4", seconds, MAFW_FPS, (1, 48000) if has_audio else None
        )
        if has_audio:
            write_wav(mafw / "data" / "audio_16k" / f"{clip_id}.wav", seconds)
        if clip_id != "20098":
            write_image_folder(
                mafw / "data" / "frames" / clip_id, MAFW_FRAMES_IN_FOLDER, lambda i: f"{i}.png", 64
            )
    split_root = mafw / "Train & Test Set"
    for view in ("single", "compound"):
        for caption in (False, True):
            for fold in range(1, 6):
                for split in ("train", "test"):
                    ids = [i for i in MAFW_CLIPS if (mafw_test_fold(i) == fold) == (split == "test")]
                    folder = split_root / view / ("with_caption" if caption else "no_caption") / f"set_{fold}"
                    folder.mkdir(parents=True, exist_ok=True)
                    text = "".join(f"{row}\r\n" for row in _mafw_rows(view, caption, ids))
                    (folder / f"{split}.txt").write_bytes(text.encode("gbk" if caption else "ascii"))
    return mafw


def build_r1omni(root: Path) -> Path:
    """Write the R1-Omni / EMER fixture under ``root/r1omni`` (see the module docstring)."""
    base = root / "r1omni"
    train, emer = [], []
    for video, (answer, rationale) in R1OMNI_RECORDS.items():
        write_clip(base / video, 2.0, 25, (1, 16000))
        question = {"from": "human", "value": R1OMNI_QUESTION}
        train.append({"video": video, "conversations": [question, {"from": "gpt", "value": answer}]})
        target = format_target(rationale, answer)
        emer.append({"video": video, "conversations": [question, {"from": "gpt", "value": target}]})
    train[-1]["dataset"] = "dfew"
    (base / "train.json").write_text(json.dumps(train, indent=1, ensure_ascii=False), encoding="utf-8")
    (base / "emer.json").write_text(json.dumps(emer, indent=1, ensure_ascii=False), encoding="utf-8")
    return base


def build_bad_media(root: Path) -> dict[str, Path]:
    """Broken and unusual media files, one per failure the decoder must name."""
    base = root / "bad"
    good = write_clip(base / "good.mp4", 2.0, 25, (1, 16000))
    paths = {name: base / f"{name}.mp4" for name in ("zero_byte", "corrupt", "truncated", "no_video")}
    paths["zero_byte"].write_bytes(b"")
    paths["corrupt"].write_bytes(np.random.default_rng(0).integers(0, 256, 4096, np.uint8).tobytes())
    paths["truncated"].write_bytes(good.read_bytes()[: good.stat().st_size * 2 // 5])  # cut before the index
    indexed = write_mp4(base / "indexed.mp4", coded_frames(50), 25, tone(2.0, 16000), faststart=True)
    paths["truncated_indexed"] = base / "truncated_indexed.mp4"  # index first, media data cut
    paths["truncated_indexed"].write_bytes(indexed.read_bytes()[: indexed.stat().st_size // 2])
    write_wav(base / "tone.wav", 1.0)
    shutil.copyfile(base / "tone.wav", paths["no_video"])  # a WAV named .mp4: opens, but has no video stream
    paths["no_audio"] = write_clip(base / "no_audio.mp4", 1.0, 25, None)
    paths["few_frames"] = write_clip(base / "few_frames.mp4", 0.12, 25, (1, 16000))  # 3 frames
    return paths
