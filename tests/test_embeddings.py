"""Questions of concurrent users embedded together: same vectors as alone, each to its own asker."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from assistant.models.embeddings import QueryBatcher, SentenceTransformerEmbeddings

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


class Gate:
    """Wraps an encoder so that its first pass waits for `open()`: questions asked meanwhile queue up."""

    def __init__(self, encode) -> None:  # type: ignore[no-untyped-def]
        self.encode = encode
        self.busy = threading.Event()
        self.opened = threading.Event()
        self.sizes: list[int] = []

    def __call__(self, texts: list[str]) -> list[list[float]]:
        self.sizes.append(len(texts))
        self.busy.set()
        self.opened.wait(timeout=30)
        return self.encode(texts)


def _ask_together(batcher: QueryBatcher, gate: Gate, questions: list[str]) -> list[list[float] | None]:
    """Every question asked from its own thread while the model is busy, then the model freed."""
    vectors: list[list[float] | None] = [None] * len(questions)

    def ask(i: int) -> None:
        vectors[i] = batcher.embed(questions[i])

    first = threading.Thread(target=batcher.embed, args=("occupies the model",))
    first.start()
    assert gate.busy.wait(timeout=30)
    threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(questions))]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 10
    while len(batcher._waiting) < len(questions) and time.monotonic() < deadline:
        time.sleep(0.01)
    gate.opened.set()
    for thread in [first, *threads]:
        thread.join(timeout=60)
    return vectors


def _lengths(texts: list[str]) -> list[list[float]]:
    return [[float(len(t))] for t in texts]


def test_concurrent_questions_share_one_pass_and_get_their_own_vector(embeddings) -> None:  # type: ignore[no-untyped-def]
    assert isinstance(embeddings, SentenceTransformerEmbeddings)
    alone = [np.array(embeddings._encode_queries([q])[0]) for q in QUESTIONS]
    gate = Gate(embeddings._encode_queries)  # the real model, made to wait once
    batcher = QueryBatcher(gate, max_batch=16)

    together = _ask_together(batcher, gate, QUESTIONS)

    assert gate.sizes == [1, len(QUESTIONS)]  # all eight were waiting: one forward pass
    assert batcher.questions == 1 + len(QUESTIONS)
    for i, vector in enumerate(together):
        assert vector is not None
        similarities = [float(np.dot(vector, a)) for a in alone]
        assert int(np.argmax(similarities)) == i  # the vector went back to the thread that asked
        assert similarities[i] > 0.9999  # padding in a batch does not change the embedding


def test_the_product_embeds_questions_through_the_batcher(embeddings) -> None:  # type: ignore[no-untyped-def]
    before = embeddings._queries.questions + embeddings._queries.cache_hits
    vector = embeddings.embed_query("Quelle est la durée du stage long ?")
    assert len(vector) == 384
    assert embeddings._queries.questions + embeddings._queries.cache_hits == before + 1


def test_a_batch_never_exceeds_its_size_and_everyone_is_answered() -> None:
    """A stand-in encoder (the length of each text) so the batch sizes can be read back exactly."""
    gate = Gate(_lengths)
    batcher = QueryBatcher(gate, max_batch=3)
    questions = ["a" * n for n in range(1, 8)]
    vectors = _ask_together(batcher, gate, questions)
    assert vectors == [[float(n)] for n in range(1, 8)]
    assert gate.sizes == [1, 3, 3, 1]


def test_a_failed_pass_reaches_every_waiter_and_the_next_question_works() -> None:
    """A stand-in encoder that fails once: the model's own failures cannot be provoked on demand."""
    calls = {"n": 0}

    def encode(texts: list[str]) -> list[list[float]]:
        calls["n"] += 1
        if calls["n"] == 3:  # the pass of the four questions below
            raise RuntimeError("out of memory")
        return [[1.0] for _ in texts]

    gate = Gate(encode)
    batcher = QueryBatcher(gate, max_batch=8)
    errors: list[str] = []

    def ask(text: str) -> None:
        try:
            batcher.embed(text)
        except RuntimeError as err:
            errors.append(str(err))

    _ask_together(batcher, gate, [])  # nothing but the first pass
    threads = [threading.Thread(target=ask, args=(f"q{i}",)) for i in range(4)]
    gate.opened.clear()
    gate.busy.clear()
    first = threading.Thread(target=batcher.embed, args=("occupies the model again",))
    first.start()
    assert gate.busy.wait(timeout=10)
    for thread in threads:
        thread.start()
    while len(batcher._waiting) < 4:
        time.sleep(0.01)
    gate.opened.set()
    for thread in [first, *threads]:
        thread.join(timeout=10)
    assert not any(t.is_alive() for t in threads)
    assert errors == ["out of memory"] * 4
    assert batcher.embed("encore") == [1.0]


@pytest.mark.parametrize("size", [1, 2])
def test_batching_off_or_tiny_still_answers_each(size: int) -> None:
    gate = Gate(_lengths)
    batcher = QueryBatcher(gate, max_batch=size)
    assert _ask_together(batcher, gate, ["x", "yy", "zzz"]) == [[1.0], [2.0], [3.0]]
    assert gate.sizes == [1, 1, 1, 1] if size == 1 else [1, 2, 1]


def test_a_question_asked_again_is_not_embedded_again() -> None:
    """A stand-in encoder that counts what it is given."""
    seen: list[list[str]] = []

    def encode(texts: list[str]) -> list[list[float]]:
        seen.append(list(texts))
        return [[float(len(t))] for t in texts]

    batcher = QueryBatcher(encode, max_batch=8, cache_size=2)
    assert batcher.embed("a") == [1.0]
    assert batcher.embed("a") == [1.0]
    assert batcher.embed("bb") == [2.0]
    assert batcher.embed("ccc") == [3.0]  # the cache holds two: « a » is forgotten
    assert batcher.embed("a") == [1.0]
    assert seen == [["a"], ["bb"], ["ccc"], ["a"]]
    assert batcher.cache_hits == 1
    vector = batcher.embed("a")
    vector.append(9.0)  # a caller changing its copy changes nothing for the next one
    assert batcher.embed("a") == [1.0]
    batcher.forget()
    assert batcher.embed("a") == [1.0] and seen[-1] == ["a"] and len(seen) == 5


def test_the_same_question_from_two_users_at_once_is_embedded_once() -> None:
    seen: list[list[str]] = []

    def encode(texts: list[str]) -> list[list[float]]:
        seen.append(list(texts))
        return [[float(len(t))] for t in texts]

    gate = Gate(encode)
    batcher = QueryBatcher(gate, max_batch=8)
    vectors = _ask_together(batcher, gate, ["aa", "b", "aa"])
    assert vectors == [[2.0], [1.0], [2.0]]
    assert seen == [["occupies the model"], ["aa", "b"]]
