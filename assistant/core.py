"""The `Assistant`: loads the model and the index once, then answers questions with citations.

The whole path of a question, in order (`Assistant.stream`):
    read_question (clean, language, refusal, form)  -> reading/question.py
    Retriever.retrieve (passages, then sentences)   -> search/retrieval.py
    decide (quote, or decline with a reason)         -> answer/decide.py
    generate (llm mode only, checked)                -> answer/generation.py
    Answer, built once                               -> answer/types.py
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings
from langchain_core.language_models.chat_models import BaseChatModel

from assistant.answer.decide import decide
from assistant.answer.fused import decide_fused
from assistant.answer.lists import continued_lists
from assistant.answer.messages import say
from assistant.answer.types import Answer, CorpusFacts, Decision, Draft, Event, Final, decline, joined_figures
from assistant.config import Settings
from assistant.errors import (
    AssistantError,
    IndexFormatMismatchError,
    IndexModelMismatchError,
    InvalidQuestionError,
    StoreUnavailableError,
)
from assistant.models.embeddings import load_embeddings
from assistant.models.refusal_head import load_refusal_head
from assistant.profile import Profile, read_profile
from assistant.reading.guard import clean
from assistant.reading.question import Question, read_question
from assistant.search.found import Hit, Retrieval
from assistant.search.retrieval import Retriever
from assistant.search.store import ChunkStore

logger = logging.getLogger(__name__)


def _message_text(content: Any) -> str:
    """Text of a chat message: a string, or Gradio's list of content blocks."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(_message_text(part) for part in content)
    if isinstance(content, dict):
        return str(content.get("text", "")) if content.get("type", "text") == "text" else ""
    return ""


def previous_user_turn(history: list[dict[str, str]]) -> str:
    for message in reversed(history):
        if message.get("role") == "user" and message.get("content", "").strip():
            return message["content"]
    return ""


@dataclass
class _Outcome:
    """A decision with what it came from, on the way to the `Answer`."""

    decision: Decision
    retrieval: Retrieval | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)
    mode: str = "extractive"
    fallback: str = ""
    dropped: list[str] = field(default_factory=list)


class Assistant:
    """Answers questions about the title from the indexed documents only."""

    def __init__(
        self,
        settings: Settings,
        embeddings: Embeddings,
        store: ChunkStore,
        chat_model: BaseChatModel | None = None,
        profile: Profile | None = None,
    ) -> None:
        """
        Args:
            chat_model: the language model of `answer_mode=llm`; loaded from the settings when None.
            profile: the assistant's subject; read from `settings.profile_file` when None.

        Raises:
            ConfigError: llm mode without a model configured, or a bad profile file.
            IndexModelMismatchError: the index was embedded by another model, or cut into other
                sentences (`IndexFormatMismatchError`): `python ingest.py` brings it up to date.
        """
        self.profile = profile or read_profile(settings.profile_file)
        self.chat_model: BaseChatModel | None = None
        if settings.answer_mode == "llm":
            from assistant.models.llm import load_chat_model

            self.chat_model = chat_model or load_chat_model(settings)
        self.settings = settings
        self.embeddings = embeddings
        self.refusal_head = load_refusal_head(settings)
        self.store = store
        self._reload_lock = threading.Lock()
        self._checked_at = time.monotonic()
        self._load(store.live_collection())
        examples = self.profile.examples
        embeddings.embed_query(examples[0] if examples else "?")  # the first real question is not slower

    def _load(self, collection: Any) -> None:
        """Reads a collection into what answers: its passages (for BM25, quotes and the figure
        check) and, when the dense side searches in memory, its vectors."""
        from langchain_chroma import Chroma

        from assistant.ingest.indexing import model_name

        built_with = str((collection.metadata or {}).get("embedding_model", ""))
        if built_with != model_name(self.embeddings):  # never compare vectors of two models
            raise IndexModelMismatchError(self.store.where, built_with, model_name(self.embeddings))
        chunks, vectors = self.store.read_all(collection, with_embeddings=True)
        vectorstore = Chroma(
            client=self.store.client,
            collection_name=collection.name,
            embedding_function=self.embeddings,
            create_collection_if_not_exists=False,
        )
        retriever = Retriever(
            self.settings,
            self.embeddings,
            vectorstore,
            chunks,
            vectors,
            frozenset(self.profile.documents),
            self.profile.names,
        )
        missing = sum(1 for units in retriever.units.values() for u in units if u.id not in vectors)
        if missing:  # never answer with sentences the index has no vector for
            raise IndexFormatMismatchError(self.store.where, missing)
        corpus = CorpusFacts(
            retriever.term_weights, joined_figures([c.text for c in chunks]), continued_lists(chunks, retriever.units)
        )
        self.retriever, self.corpus, self.collection_name = retriever, corpus, collection.name

    def follow_live_index(self, force: bool = False) -> bool:
        """Switches to the index an ingest published since (from this machine or another), without
        a restart. The pointer is read at most every `index_check_s` seconds, or now when `force`.
        While the store cannot be read, what is loaded keeps answering.

        Returns:
            Whether it switched.
        """
        if not force and time.monotonic() - self._checked_at < self.settings.index_check_s:
            return False
        with self._reload_lock:
            if not force and time.monotonic() - self._checked_at < self.settings.index_check_s:
                return False  # another thread just checked
            self._checked_at = time.monotonic()
            try:
                live = self.store.live_name()
                if live is None or live == self.collection_name:
                    return False
                self._load(self.store.live_collection())
            except Exception:  # unreachable, or an ingest switching right now: try again later
                logger.warning("could not check for a new index", exc_info=True)
                return False
            logger.info("now answering from the index %s", live)
            return True

    @classmethod
    def from_settings(cls, settings: Settings | None = None, embeddings: Embeddings | None = None) -> Assistant:
        """Loads the profile, the embedding model and the live index (once; reuse the returned object).

        Raises:
            IndexMissingError: nothing has been ingested (run `python ingest.py`).
            StoreUnavailableError: the Chroma server does not answer.
            ConfigError: the profile file is missing or malformed.
        """
        settings = settings or Settings()
        profile = read_profile(settings.profile_file)
        embeddings = embeddings or load_embeddings(settings)
        return cls(settings, embeddings, ChunkStore.open(settings), profile=profile)

    def ask(self, question: str, history: list[dict[str, Any]] | None = None) -> Answer:
        """Answers one question, using the history for follow-ups.

        Raises:
            InvalidQuestionError: the question is empty (or not text).
            StoreUnavailableError: the Chroma server went away.
        """
        for event in self.stream(question, history):
            if isinstance(event, Final):
                return event.answer
        raise AssertionError("a stream always ends with its Final answer")

    def stream(self, question: str, history: list[dict[str, Any]] | None = None) -> Iterator[Event]:
        """Like `ask`, but in llm mode yields the model's text as it comes first (`Draft` events); the
        last event is always `Final`, the checked answer, which is what to show in the end."""
        started = time.perf_counter()
        if not isinstance(question, str) or not question.strip():
            raise InvalidQuestionError(say("empty_question", "fr"))
        read = read_question(question, self.settings.max_question_chars)
        outcome = self._answer(read, self._clean_history(history))
        if self.chat_model is not None and outcome.retrieval is not None and not outcome.decision.abstained:
            outcome = yield from self._generate(read, outcome)
        text = outcome.decision.text
        if read.truncated:
            text += "\n\n" + say("truncated", read.language, limit=self.settings.max_question_chars)
        retrieval = outcome.retrieval
        yield Final(
            Answer(
                text,
                abstained=outcome.decision.abstained,
                citations=outcome.decision.citations,
                latency_ms=(time.perf_counter() - started) * 1000,
                timings_ms={"embed": 0.0, "retrieve": 0.0, "answer": 0.0} | outcome.timings_ms,
                reason=outcome.decision.reason,
                language=read.language,
                followup=retrieval.followup if retrieval else False,
                query=retrieval.query if retrieval else "",
                coverage=outcome.decision.coverage,
                score=outcome.decision.score,
                mode=outcome.mode,
                fallback=outcome.fallback,
                dropped=outcome.dropped,
                retrieval=retrieval,
            )
        )

    def _generate(self, question: Question, outcome: _Outcome) -> Generator[Draft, None, _Outcome]:
        """The model's answer from the passages, checked; the extractive one if it fails."""
        from assistant.answer.generation import build_messages, renumber, stream_answer, validate
        from assistant.models.llm import ModelFailure

        assert self.chat_model is not None and outcome.retrieval is not None
        extractive, language = outcome.decision, question.language
        hits = self._passages_for_model(outcome.retrieval, extractive)
        messages = build_messages(outcome.retrieval.query, hits, language, self.profile)
        started = time.perf_counter()
        pieces: list[str] = []
        try:
            for piece in stream_answer(self.chat_model, messages):
                pieces.append(piece)
                yield Draft(piece)
        except ModelFailure as failure:
            logger.warning("language model failed (%s); extractive answer shown", failure)
            text = extractive.text + "\n\n" + say("model_failed", language)
            return replace(outcome, decision=replace(extractive, text=text), fallback=failure.kind)
        timings = dict(outcome.timings_ms, generate=(time.perf_counter() - started) * 1000)
        checked = validate("".join(pieces), [f"{h.section}\n{h.chunk.text}" for h in hits])
        if not checked.cited:  # nothing left that points to a passage: the quotes are safer
            text = extractive.text + "\n\n" + say("model_unchecked", language)
            decision = replace(extractive, text=text)
            dropped = checked.dropped
            return replace(outcome, decision=decision, timings_ms=timings, fallback="no_citation", dropped=dropped)
        text, citations = renumber(checked, hits)
        missing = self.corpus.missing_figures(question)
        if missing:  # the same warning as the extractive answer's, on a premise the documents lack
            text += "\n\n" + say("unknown_figure", language, figures=", ".join(f"« {m} »" for m in missing))
        decision = replace(extractive, text=text, citations=citations)
        return replace(outcome, decision=decision, timings_ms=timings, mode="llm", dropped=checked.dropped)

    def _passages_for_model(self, retrieval: Retrieval, extractive: Decision) -> list[Hit]:
        """The passages the extractive answer quotes, then the best other hits, up to `llm_passages`."""
        cited = {c.chunk_id for c in extractive.citations}
        ordered = [h for h in retrieval.hits if h.chunk.id in cited] + [
            h for h in retrieval.hits if h.chunk.id not in cited
        ]
        return ordered[: self.settings.llm_passages]

    def _clean_history(self, history: Any) -> list[dict[str, str]]:
        if not isinstance(history, list):
            return []
        limit = self.settings.max_history_messages
        cleaned = []
        for message in history[-limit:] if limit else []:
            if not isinstance(message, dict):
                continue
            text, _ = clean(_message_text(message.get("content", "")), self.settings.max_history_chars)
            if text:
                cleaned.append({"role": str(message.get("role", "user")), "content": text})
        return cleaned

    def _answer(self, question: Question, history: list[dict[str, str]]) -> _Outcome:
        """The extractive decision and what it came from (no retrieval when refused before it)."""
        if not question.has_words:
            return _Outcome(decline("no_question", question, self.profile, "no_question"))
        if question.refusal:
            return _Outcome(decline(question.refusal, question, self.profile, question.refusal))
        head_ms = 0.0
        if self.refusal_head is not None:  # the question's vector is cached: retrieval reuses it
            started = time.perf_counter()
            kind = self.refusal_head.kind(np.asarray(self.embeddings.embed_query(question.text), dtype=np.float32))
            head_ms = (time.perf_counter() - started) * 1000
            if kind:
                return _Outcome(decline(kind, question, self.profile, kind), timings_ms={"embed": head_ms})
        self.follow_live_index()
        try:
            outcome = self._answer_with_followup(question, history)
            outcome.timings_ms["embed"] = outcome.timings_ms.get("embed", 0.0) + head_ms
            return outcome
        except StoreUnavailableError:
            raise
        except Exception:
            # On a Chroma server, an ingest from elsewhere drops the collection this process was
            # reading: switch to the new one and ask again; any other error goes up as it was.
            if not self.follow_live_index(force=True):
                raise
            return self._answer_with_followup(question, history)

    def _answer_with_followup(self, question: Question, history: list[dict[str, str]]) -> _Outcome:
        """Answers the question; an elliptic question after an earlier one (« Et le stage court ? »)
        is read with the previous user turn first, and on its own only when the two together find
        no answer (a short question can also stand alone: « Et la VAE ? »)."""
        previous = previous_user_turn(history)
        if self.settings.followups and previous and question.elliptic:
            with_context = self._retrieve_and_decide(question, previous)
            if not with_context.decision.abstained:
                return with_context
            alone = self._retrieve_and_decide(question, "")
            embed = with_context.timings_ms.get("embed", 0.0)
            alone.timings_ms["embed"] = alone.timings_ms.get("embed", 0.0) + embed
            return alone
        return self._retrieve_and_decide(question, "")

    def _retrieve_and_decide(self, question: Question, context: str) -> _Outcome:
        retrieval = self.retriever.retrieve(question, context=context)
        started = time.perf_counter()
        choose = decide if self.settings.decision == "reader" else decide_fused
        decision = choose(question, retrieval, self.corpus, self.settings, self.profile)
        timings = dict(retrieval.timings_ms, answer=(time.perf_counter() - started) * 1000)
        return _Outcome(decision, retrieval, timings)


def safe_error(err: Exception) -> str:
    """The message to show a user for an error: ours as they are, anything else generic."""
    if isinstance(err, AssistantError):
        return str(err)
    return "Une erreur interne est survenue ; réessayez, et si elle persiste, signalez-la à l'équipe."
