"""The late-interaction score as training computes it, on token states with their gradients (the
app's is `assistant/search/late.py`, on one question at a time)."""

from __future__ import annotations

from typing import Any


def late_scores(questions: list[Any], sentences: list[Any]) -> Any:
    """Late interaction (questions × sentences): each question token's best cosine with a token of
    the sentence, averaged over the question's tokens; inputs are normalised token states."""
    import torch

    def padded(states: list[Any]) -> tuple[Any, Any]:
        longest = max(1, max(s.shape[0] for s in states))
        out = torch.zeros(len(states), longest, states[0].shape[1])
        mask = torch.zeros(len(states), longest, dtype=torch.bool)
        for i, s in enumerate(states):
            out[i, : s.shape[0]], mask[i, : s.shape[0]] = s, True
        return out, mask

    q, q_mask = padded(questions)
    s, s_mask = padded(sentences)
    similarity = torch.einsum("qid,sjd->qsij", q, s).masked_fill(~s_mask[None, :, None, :], -2.0)
    best = similarity.max(dim=-1).values * q_mask[:, None, :]
    return best.sum(-1) / q_mask.sum(-1, keepdim=True).clamp(min=1)
