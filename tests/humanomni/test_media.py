"""Token counts, positions and order; gate forcing; the projector against a loop version; frame indices."""

from __future__ import annotations

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from ervlight.policy.humanomni import HumanOmni
from ervlight.policy.humanomni.processing import reference_frame_indices, siglip_pixels
from ervlight.policy.humanomni.splicing import SENTINELS, pad_left, splice
from policy.media import synthetic_batch

VISUAL, AUDIO = 4 * 2 * 2, 50 // 3  # 4 frames of 2x2 tokens; 100 mel frames -> 50 states -> 16 tokens


def test_spliced_prompt_has_media_blocks_in_place_and_a_correct_padded_mask(policy: HumanOmni) -> None:
    batch = synthetic_batch(["happy", "sad"], frames=4, size=32, seconds=0.5)
    prompts = ["Which emotion?", "Which emotion is the most obvious to you? As an expert;"]
    ids, mask = policy.prompt_ids(prompts)
    assert (ids == SENTINELS["<video>"]).sum(-1).tolist() == [1, 1]
    context = policy.encode(batch, prompts)
    text = (mask.bool() & (ids >= 0)).sum(-1)  # [B]
    lengths = context.attention_mask.sum(-1)
    assert lengths.tolist() == (text + VISUAL + AUDIO).tolist()
    width = context.attention_mask.shape[1]
    assert context.attention_mask[0].tolist() == [0] * (width - int(lengths[0])) + [1] * int(lengths[0])
    for b in range(2):  # each row equals the row spliced alone, left-padded
        alone = policy.encode(_row(batch, b), [prompts[b]])
        torch.testing.assert_close(context.embeds[b, width - int(lengths[b]) :], alone.embeds[0])


def _row(batch, index: int):  # type: ignore[no-untyped-def]
    rows = synthetic_batch([batch.label_names[index]], frames=4, size=32, seconds=0.5)
    rows.frames, rows.audio = batch.frames[index : index + 1], batch.audio[index : index + 1]
    return rows


def test_splice_order_positions_and_kinds() -> None:
    video = torch.arange(3 * 2, dtype=torch.float).view(1, 3, 2).repeat(2, 1, 1) + 100  # [B, 3, D]
    audio = -torch.ones(2, 2, 2)  # [B, 2, D]
    ids, mask = pad_left([[5, -201, 6, -202, 7], [-201, -202, 8]], pad_id=0)
    out = splice(ids, mask, lambda x: x.unsqueeze(-1).float().repeat(1, 1, 2), {-201: video, -202: audio})
    assert out.attention_mask.tolist() == [[1] * 8, [0, 0, 1, 1, 1, 1, 1, 1]]
    assert out.kinds[0].tolist() == [0, -201, -201, -201, 0, -202, -202, 0]
    assert out.embeds[0, :, 0].tolist() == [5, 100, 102, 104, 6, -1, -1, 7]
    assert out.embeds[1, 2:, 0].tolist() == [100, 102, 104, -1, -1, 8]


def test_forcing_the_gate_reproduces_one_branch(policy: HumanOmni) -> None:
    pixels = torch.randn(2, 4, 3, 32, 32)
    gate = policy.gate_inputs(["Which emotion?", "is the most obvious"])
    branches = policy.media.mm_projector(policy.media.vision_tower(pixels))
    for index, name in enumerate(("video", "body", "face")):
        torch.testing.assert_close(policy.media.visual_tokens(pixels, gate, name), branches[index])
    last = policy.media.bert_gate[2]
    assert isinstance(last, nn.Linear)
    with torch.no_grad():
        last.weight.zero_()
        last.bias.copy_(torch.tensor([0.0, 0.0, 60.0]))
    torch.testing.assert_close(policy.media.visual_tokens(pixels, gate), branches[2])
    weights = policy.media.branch_weights(gate)
    assert weights.shape == (2, 3)


def test_projector_equals_a_loop_version(policy: HumanOmni) -> None:
    projector = policy.media.mm_projector
    features = torch.randn(2, 4, 16, 16)  # [B, T, N, C]
    video, body, face = projector(features)
    for branch, tokens in (("video", video), ("body", body)):
        torch.testing.assert_close(tokens, _loop_branch(projector, branch, features), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(face, _loop_face(projector, features), atol=1e-5, rtol=1e-5)


def _loop_branch(projector: nn.Module, branch: str, features: torch.Tensor) -> torch.Tensor:
    """One clip, one frame, one kernel step at a time."""
    s1, s2 = projector.get_submodule(f"s1_{branch}"), projector.get_submodule(f"s2_{branch}")
    conv = projector.get_submodule(f"sampler_{branch}")[0]
    readout = projector.get_submodule(f"readout_{branch}")
    clips = []
    for clip in features:
        frames = [s1(frame.T.reshape(1, -1, 4, 4))[0] for frame in clip]  # T x [D, 4, 4]
        zero = torch.zeros_like(frames[0])
        padded = [zero, *frames, zero]  # time padding 1
        steps = []
        for t in range(len(frames)):  # T + 1 conv steps, the last dropped
            out = sum(
                F.conv2d(padded[t + k][None], conv.weight[:, :, k], stride=2) for k in range(2)
            ) + conv.bias.view(1, -1, 1, 1)
            steps.append(s2(F.silu(out))[0])  # [D, 2, 2]
        tokens = [steps[t][:, i, j] for t in range(len(steps)) for i in range(2) for j in range(2)]
        clips.append(readout(torch.stack(tokens)))
    return torch.stack(clips)


def _loop_face(projector: nn.Module, features: torch.Tensor) -> torch.Tensor:
    """2x bilinear downsampling of an even grid is the mean of each 2x2 block."""
    clips = []
    for clip in features:
        tokens = []
        for frame in clip:
            grid = projector.mlp_2xgelu_face(frame).view(4, 4, -1)
            tokens += [
                grid[2 * i : 2 * i + 2, 2 * j : 2 * j + 2].mean((0, 1)) for i in range(2) for j in range(2)
            ]
        clips.append(torch.stack(tokens))
    return torch.stack(clips)


def test_frame_indices_equal_hand_computed_ones() -> None:
    assert reference_frame_indices(17, 8) == [1, 3, 5, 7, 9, 11, 13, 15]
    assert reference_frame_indices(10, 8) == [1, 2, 3, 4, 5, 6, 7, 8]
    assert reference_frame_indices(4, 8) == [0, 1, 1, 1, 2, 2, 2, 3]
    assert reference_frame_indices(3, 2) == [1, 2]  # halves round up (the reference's + 1e-6)
    assert reference_frame_indices(1, 8) == [0] * 8


def test_padding_frames_are_black_and_sizes_follow_siglip() -> None:
    frames = torch.rand(1, 3, 3, 16, 16)
    mask = torch.tensor([[True, True, False]])
    pixels = siglip_pixels(frames, mask, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0), 32)
    assert pixels.shape == (1, 3, 3, 32, 32)
    assert torch.equal(pixels[0, 2], torch.full((3, 32, 32), -1.0))
    same = siglip_pixels(frames, mask, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0), 16, padding="repeat")
    torch.testing.assert_close(same, frames * 2 - 1)
