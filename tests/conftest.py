"""Shared test fixtures: miniature DFEW and MAFW trees, R1-Omni / EMER JSON files and broken media.

Every tree is written once per test session (a few seconds) into a temporary folder with real mp4 files from
:func:`ervlight.data.mp4_writer.write_mp4` (64x48 frames) and keeps the quirks of ``shared/datasets.md`` §5. Treat
the trees as read-only; copy one (``shutil.copytree``) before changing it. The constants below say exactly what
each tree holds, so tests can assert exact counts.

Every video frame is a flat colour that encodes its own index (:func:`frame_code`), so a test can recover which
frame indices a decoder sampled with the ``frame_index_of`` fixture; every audio track is a sine tone.

* ``dfew_root`` — ``DFEW/`` with ``EmoLabel_DataSplit/{train,test}(single-labeled)/set_{1..5}.csv`` (header
  ``video_name,label``; train CSVs write unpadded ids ``7``, test CSVs padded ids ``00007``), ``Clip/original/
  <00001>.mp4`` (2 s, 24 or 25 fps, mono 16 kHz or stereo 44.1 kHz AAC), ``Clip/clip_224x224/<id>/`` (224x224
  JPEGs named ``1.jpg…`` for odd ids, ``00002_1.jpg…`` for even ids) and ``Clip/clip_224x224_16f/<id>/1..16.jpg``.
  Id 11 has no mp4, id 12 has no frame folders (the dropped clips).
* ``mafw_root`` — ``MAFW/`` with ``data/clips/<id>.mp4`` (2–5 s; ``00903`` has NO audio track),
  ``data/frames/<id>/*.png``, ``data/audio_16k/<id>.wav`` (not for ``00903``) and ``Train & Test Set/{single,
  compound}/{no_caption,with_caption}/set_{1..5}/{train,test}.txt`` (no_caption: ``00025.mp4 anger``, CRLF line
  endings; with_caption: tab-separated GBK ``clip\\tlabel\\tzh\\ten``, no neutral rows). ``20098`` has no frames.
* ``r1omni_root`` — ``MAFW/videos/*.mp4`` and ``DFEW/videos/<n>.mp4`` (unpadded names) with ``train.json``
  (R1-Omni records, adjective answers) and ``emer.json`` (the same clips with ``<think>…</think>\\n<answer>…``
  cold-start targets); ``r1omni_json`` / ``emer_json`` are the two files.
* ``bad_media`` — ``{"zero_byte", "corrupt", "truncated", "truncated_indexed", "no_video", "no_audio",
  "few_frames"}`` -> paths (``truncated`` is cut before its index, ``truncated_indexed`` is a faststart mp4 cut
  in its media data, ``no_video`` is a WAV named ``.mp4``, ``few_frames`` has 3 frames).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from mini_trees import build_bad_media, build_dfew, build_mafw, build_r1omni, decode_frame_code


@pytest.fixture(scope="session")
def dfew_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """DFEW-mini (read-only; see the module docstring)."""
    return build_dfew(tmp_path_factory.mktemp("dfew"))


@pytest.fixture(scope="session")
def mafw_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """MAFW-mini (read-only; see the module docstring)."""
    return build_mafw(tmp_path_factory.mktemp("mafw"))


@pytest.fixture(scope="session")
def r1omni_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Folder holding the R1-Omni / EMER JSON files and their media."""
    return build_r1omni(tmp_path_factory.mktemp("r1omni"))


@pytest.fixture(scope="session")
def r1omni_json(r1omni_root: Path) -> Path:
    """R1-Omni training JSON (answers are R1-Omni adjectives; the last record has ``"dataset": "dfew"``)."""
    return r1omni_root / "train.json"


@pytest.fixture(scope="session")
def emer_json(r1omni_root: Path) -> Path:
    """EMER-style cold-start JSON: the same clips with ``<think>…</think>\\n<answer>…</answer>`` targets."""
    return r1omni_root / "emer.json"


@pytest.fixture(scope="session")
def bad_media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Broken media: zero_byte, corrupt, truncated, truncated_indexed, no_video, no_audio, few_frames (3 frames)."""
    return build_bad_media(tmp_path_factory.mktemp("bad_media"))


@pytest.fixture(scope="session")
def frame_index_of() -> Callable[[np.ndarray], int]:
    """Recover the frame index painted into a decoded ``uint8 [H, W, 3]`` frame."""
    return decode_frame_code
