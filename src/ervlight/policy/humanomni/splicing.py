"""Media placeholders as negative sentinel ids, and their replacement by feature blocks in a padded batch.

``<image>``/``<video>``/``<audio>`` in a prompt become single sentinel ids (-200/-201/-202, the reference's
``MODAL_INDEX_MAP``); the text around them is tokenised without special tokens, start/end markers such as
``<vi_start>`` stay plain text. :func:`splice` replaces each sentinel by its ``[n, D]`` feature block and returns a
LEFT-padded ``[B, P', D]`` batch with a mask that is 1 exactly on real positions (text and media) of each row: the
reference built the mask only when all rows had the same length. Symbols: ``B`` prompts, ``P`` ids, ``P'`` spliced
positions, ``D`` LM width.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from transformers import PreTrainedTokenizerBase

__all__ = ["SENTINELS", "Spliced", "pad_left", "splice", "tokenize_with_sentinels"]

#: Placeholder text -> sentinel id (the reference's ``MODAL_INDEX_MAP``).
SENTINELS: dict[str, int] = {"<image>": -200, "<video>": -201, "<audio>": -202}
_PLACEHOLDER = re.compile("|".join(re.escape(text) for text in SENTINELS))


def tokenize_with_sentinels(tokenizer: PreTrainedTokenizerBase, text: str) -> list[int]:
    """Token ids of ``text`` with each placeholder as its sentinel id (no special tokens added)."""
    ids: list[int] = []
    start = 0
    for match in _PLACEHOLDER.finditer(text):
        if match.start() > start:
            ids += tokenizer(text[start : match.start()], add_special_tokens=False)["input_ids"]
        ids.append(SENTINELS[match.group()])
        start = match.end()
    if start < len(text):
        ids += tokenizer(text[start:], add_special_tokens=False)["input_ids"]
    return ids


def pad_left(rows: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Left-padded ``[B, P]`` ids and their ``[B, P]`` mask."""
    width = max(len(row) for row in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)  # [B, P]
    mask = torch.zeros(len(rows), width, dtype=torch.long)  # [B, P]
    for i, row in enumerate(rows):
        if row:
            ids[i, width - len(row) :] = torch.tensor(row)
            mask[i, width - len(row) :] = 1
    return ids, mask


@dataclass
class Spliced:
    """Prompt embeddings with media spliced in.

    Attributes:
        embeds: ``[B, P', D]`` left-padded input embeddings.
        attention_mask: ``[B, P']`` long, 1 on real positions.
        kinds: ``[B, P']`` long: 0 for text and padding, the sentinel id at each media position.
    """

    embeds: torch.Tensor
    attention_mask: torch.Tensor
    kinds: torch.Tensor


def splice(
    ids: torch.Tensor,
    mask: torch.Tensor,
    embed: Callable[[torch.Tensor], torch.Tensor],
    media: dict[int, torch.Tensor],
) -> Spliced:
    """Replace every sentinel of the left-padded ``[B, P]`` ids by its ``[B, n, D]`` block from ``media``.

    ``embed`` maps ``[B, P]`` ids to ``[B, P, D]`` token embeddings. A sentinel without a block is an error.
    """
    present = mask.bool()  # [B, P]
    text = embed(ids.clamp(min=0))  # [B, P, D] (sentinels embedded as id 0, then replaced)
    known = sorted(media)
    rows, kinds = [], []
    for b in range(ids.shape[0]):
        table = [text[b]] + [media[s][b].to(text.dtype) for s in known]  # [P, D], [n_s, D]...
        offsets = [0]
        for part in table:
            offsets.append(offsets[-1] + part.shape[0])
        index: list[int] = []
        kind: list[int] = []
        for p in torch.nonzero(present[b]).flatten().tolist():
            token = int(ids[b, p])
            if token >= 0:
                index.append(p)
                kind.append(0)
                continue
            if token not in media:
                raise ValueError(f"prompt {b} has sentinel {token} but no media features for it")
            slot = known.index(token) + 1
            index += range(offsets[slot], offsets[slot + 1])
            kind += [token] * (offsets[slot + 1] - offsets[slot])
        rows.append(torch.cat(table)[torch.tensor(index, dtype=torch.long, device=text.device)])  # [L_b, D]
        kinds.append(kind)
    width = max(row.shape[0] for row in rows)
    embeds = text.new_zeros(len(rows), width, text.shape[-1])  # [B, P', D]
    new_mask = torch.zeros(len(rows), width, dtype=torch.long, device=text.device)  # [B, P']
    kind_ids = torch.zeros(len(rows), width, dtype=torch.long, device=text.device)  # [B, P']
    for b, row in enumerate(rows):
        length = row.shape[0]
        embeds[b, width - length :] = row
        new_mask[b, width - length :] = 1
        kind_ids[b, width - length :] = torch.tensor(kinds[b], dtype=torch.long)
    return Spliced(embeds, new_mask, kind_ids)
