"""Questions of concurrent users embedded together: same vectors as alone, each to its own asker."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from assistant.embeddings import QueryBatcher, SentenceTransformerEmbeddings

QUESTIONS = [
    "Combien d'heures dure la formation ?",
    "Quel est le niveau du titre ?",
    "Qui délivre le titre de moniteur d'atelier ?",
    "Peut-on obtenir le titre par la VAE ?",
    "Quels sont les blocs de compétences ?",
    "Combien de temps dure le stage long ?",
    "How long is the training?",
    "Comment se déroule la certification ?",
]


def _ask_together(embed, questions: list[str], hold: threading.Lock, waiting) -> list[list[float] | None]:  # type: ignore[no-untyped-def]
    """Every question asked from its own thread while the model is held, then released at once."""
    vectors: list[list[float] | None] = [None] * len(questions)

    def ask(i: int) -> None:
        vectors[i] = embed(questions[i])

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(questions))]
    with hold:
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 10
        while waiting() < len(questions) and time.monotonic() < deadline:
            time.sleep(0.01)
    for thread in threads:
        thread.join(timeout=60)
    return vectors


def test_concurrent_questions_share_one_pass_and_get_their_own_vector(embeddings) -> None:  # type: ignore[no-untyped-def]
    assert isinstance(embeddings, SentenceTransformerEmbeddings)
    alone = [np.array(embeddings.embed_query(q)) for q in QUESTIONS]
    batcher = embeddings._queries
    batches_before, questions_before = batcher.batches, batcher.questions

    together = _ask_together(
        embeddings.embed_query, QUESTIONS, batcher._model_lock, lambda: len(batcher._waiting)
    )

    assert batcher.questions - questions_before == len(QUESTIONS)
    assert batcher.batches - batches_before == 1  # all eight were waiting: one forward pass
    for i, vector in enumerate(together):
        assert vector is not None
        similarities = [float(np.dot(vector, a)) for a in alone]
        assert int(np.argmax(similarities)) == i  # the vector went back to the thread that asked
        assert similarities[i] > 0.9999  # padding in a batch does not change the embedding


def test_a_batch_never_exceeds_its_size_and_everyone_is_answered() -> None:
    """A stand-in encoder (the length of each text) so the batch sizes can be read back exactly."""
    sizes: list[int] = []

    def encode(texts: list[str]) -> list[list[float]]:
        sizes.append(len(texts))
        return [[float(len(t))] for t in texts]

    batcher = QueryBatcher(encode, max_batch=3)
    questions = ["a" * n for n in range(1, 8)]
    vectors = _ask_together(batcher.embed, questions, batcher._model_lock, lambda: len(batcher._waiting))
    assert vectors == [[float(n)] for n in range(1, 8)]
    assert sizes == [3, 3, 1]


def test_a_failed_pass_reaches_every_waiter_and_the_next_question_works() -> None:
    """A stand-in encoder that fails once: the model's own failures cannot be provoked on demand."""
    calls = {"n": 0}

    def encode(texts: list[str]) -> list[list[float]]:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("out of memory")
        return [[1.0] for _ in texts]

    batcher = QueryBatcher(encode, max_batch=8)
    errors: list[str] = []

    def ask() -> None:
        try:
            batcher.embed("question")
        except RuntimeError as err:
            errors.append(str(err))

    threads = [threading.Thread(target=ask) for _ in range(4)]
    with batcher._model_lock:
        for thread in threads:
            thread.start()
        while len(batcher._waiting) < 4:
            time.sleep(0.01)
    for thread in threads:
        thread.join(timeout=10)
    assert not any(t.is_alive() for t in threads)
    assert errors == ["out of memory"] * 4
    assert batcher.embed("encore") == [1.0]


@pytest.mark.parametrize("size", [1, 2])
def test_batching_off_or_tiny_still_answers_each(size: int) -> None:
    batcher = QueryBatcher(lambda texts: [[float(len(t))] for t in texts], max_batch=size)
    vectors = _ask_together(batcher.embed, ["x", "yy", "zzz"], batcher._model_lock, lambda: len(batcher._waiting))
    assert vectors == [[1.0], [2.0], [3.0]]
