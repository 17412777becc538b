"""The shared miniature trees hold exactly the quirks the readers are tested against."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import av
import numpy as np

from mini_trees import DFEW_CLIPS, MAFW_CLIPS, coded_frames


def test_dfew_mini_layout(dfew_root: Path) -> None:
    csv = dfew_root / "EmoLabel_DataSplit" / "test(single-labeled)" / "set_2.csv"
    assert csv.read_text().splitlines() == ["video_name,label", "00002,2", "00007,7", "00012,4"]
    train = (
        (dfew_root / "EmoLabel_DataSplit" / "train(single-labeled)" / "set_2.csv").read_text().splitlines()
    )
    assert train[1:4] == ["1,1", "3,3", "4,4"]
    assert len(train) == 1 + 9
    assert len(list((dfew_root / "Clip" / "original").glob("*.mp4"))) == 11
    assert sorted(p.name for p in (dfew_root / "Clip" / "clip_224x224").iterdir())[-1] == "00011"
    assert len(list((dfew_root / "Clip" / "clip_224x224" / "00002").glob("00002_*.jpg"))) == 105
    assert DFEW_CLIPS[6][0] == 6


def test_mafw_mini_layout(mafw_root: Path) -> None:
    split = mafw_root / "Train & Test Set"
    raw = (split / "single" / "no_caption" / "set_1" / "test.txt").read_bytes()
    assert raw == b"00019.mp4 happiness\r\n05120.mp4 sadness\r\n18000.mp4 disappointment\r\n"
    caption = (split / "single" / "with_caption" / "set_1" / "test.txt").read_bytes().decode("gbk")
    assert caption.split("\r\n")[0].split("\t")[:2] == ["00019.mp4", "happiness"]
    with av.open(str(mafw_root / "data" / "clips" / "00903.mp4")) as container:
        assert [s.type for s in container.streams] == ["video"]
    assert len(MAFW_CLIPS) == 13


def test_frames_carry_their_index(tmp_path: Path, frame_index_of: Callable[[np.ndarray], int]) -> None:
    assert [frame_index_of(frame) for frame in coded_frames(300)] == list(range(300))
