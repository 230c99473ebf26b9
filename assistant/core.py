"""The `Assistant`: loads the model and the index once, then answers questions with citations."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Generator, Iterator
from typing import Any

from langchain_core.embeddings import Embeddings
from langchain_core.language_models.chat_models import BaseChatModel

from assistant.answer.compose import Answer, compose
from assistant.answer.guard import clean, read
from assistant.answer.messages import say
from assistant.config import Settings
from assistant.errors import AssistantError, ConfigError, InvalidQuestionError, StoreUnavailableError
from assistant.profile import current_profile
from assistant.search.analysis import fold_accents
from assistant.search.embeddings import load_embeddings
from assistant.search.retrieval import Hit, Retrieval, Retriever, is_elliptic, previous_user_turn
from assistant.search.store import ChunkStore

logger = logging.getLogger(__name__)
ANSWER_MODES = ("extractive", "llm")

_CONFIRMATION = re.compile(
    r"c'est (ca|bien|vrai)|\bnon\s*\?|n'est-ce pas|\bright\s*\?|\bisn't it|\bis that (right|true)"
)
_YEAR = re.compile(r"(?:19|20)\d\d")
_FIGURE = re.compile(r"\b\d[\d  ]*(?:[.,]\d+)?\b")


def _message_text(content: Any) -> str:
    """Text of a chat message: a string, or Gradio's list of content blocks."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(_message_text(part) for part in content)
    if isinstance(content, dict):
        return str(content.get("text", "")) if content.get("type", "text") == "text" else ""
    return ""


class Assistant:
    """Answers questions about the title from the indexed documents only."""

    def __init__(
        self, settings: Settings, embeddings: Embeddings, store: ChunkStore, chat_model: BaseChatModel | None = None
    ) -> None:
        """
        Args:
            chat_model: the language model of `answer_mode=llm`; loaded from the settings when None.

        Raises:
            ConfigError: an unknown answer mode, or llm mode without a model configured.
        """
        if settings.answer_mode not in ANSWER_MODES:
            raise ConfigError(
                f"ASSISTANT_ANSWER_MODE « {settings.answer_mode} » inconnu ; valeurs possibles : "
                f"{', '.join(ANSWER_MODES)}."
            )
        self.chat_model: BaseChatModel | None = None
        if settings.answer_mode == "llm":
            from assistant.answer.llm import load_chat_model

            self.chat_model = chat_model or load_chat_model(settings)
        self.settings = settings
        self.embeddings = embeddings
        self.store = store
        self._reload_lock = threading.Lock()
        self._checked_at = time.monotonic()
        self._load(store.live_collection())
        examples = current_profile().examples
        embeddings.embed_query(examples[0] if examples else "?")  # the first real question is not slower

    def _load(self, collection: Any) -> None:
        """Reads a collection into what answers: its passages (for BM25, quotes and the figure
        check) and, when the dense side searches in memory, its vectors."""
        from langchain_chroma import Chroma

        chunks, vectors = self.store.read_all(collection, with_embeddings=True)
        vectorstore = Chroma(
            client=self.store.client,
            collection_name=collection.name,
            embedding_function=self.embeddings,
            create_collection_if_not_exists=False,
        )
        retriever = Retriever(self.settings, self.embeddings, vectorstore, chunks, vectors)
        # Digit groups joined once (« 24 000 » -> 24000), for the figure check of every answer.
        figures = re.sub(r"[  ]", "", "\n".join(c.text for c in chunks))
        self.retriever, self.corpus_figures_text, self.collection_name = retriever, figures, collection.name

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
        """Loads the embedding model and the live index (once; reuse the returned object).

        Raises:
            IndexMissingError: nothing has been ingested (run `python ingest.py`).
            StoreUnavailableError: the Chroma server does not answer.
        """
        settings = settings or Settings()
        embeddings = embeddings or load_embeddings(settings)
        return cls(settings, embeddings, ChunkStore.open(settings))

    def ask(self, question: str, history: list[dict[str, Any]] | None = None) -> Answer:
        """Answers one question, using the history for follow-ups.

        Raises:
            InvalidQuestionError: the question is empty (or not text).
            StoreUnavailableError: the Chroma server went away.
        """
        answer = None
        for item in self.stream(question, history):
            answer = item
        assert isinstance(answer, Answer)
        return answer

    def stream(self, question: str, history: list[dict[str, Any]] | None = None) -> Iterator[str | Answer]:
        """Like `ask`, but in llm mode yields the model's text as it comes first (str pieces); the
        last item is always the `Answer`, checked, which is what to show in the end."""
        started = time.perf_counter()
        if not isinstance(question, str) or not question.strip():
            raise InvalidQuestionError(say("empty_question", "fr"))
        answer, retrieval, truncated = self._answer(question, self._clean_history(history))
        if self.chat_model is not None and retrieval is not None and not answer.abstained:
            answer = yield from self._generate(retrieval, answer)
        if truncated:
            note = say("truncated", answer.language, limit=self.settings.max_question_chars)
            answer.text = f"{answer.text}\n\n{note}"
        answer.latency_ms = (time.perf_counter() - started) * 1000
        answer.retrieval = retrieval
        answer.timings_ms = {"embed": 0.0, "retrieve": 0.0, "answer": 0.0} | answer.timings_ms
        yield answer

    def _generate(self, retrieval: Retrieval, extractive: Answer) -> Generator[str, None, Answer]:
        """The model's answer from the passages, checked; the extractive one if it fails."""
        from assistant.answer.generation import build_messages, renumber, stream_answer, validate
        from assistant.answer.llm import ModelFailure

        assert self.chat_model is not None
        hits = self._passages_for_model(retrieval, extractive)
        messages = build_messages(extractive.query or retrieval.query, hits, extractive.language)
        started = time.perf_counter()
        pieces: list[str] = []
        try:
            for piece in stream_answer(self.chat_model, messages):
                pieces.append(piece)
                yield piece
        except ModelFailure as failure:
            logger.warning("language model failed (%s); extractive answer shown", failure)
            extractive.fallback = failure.kind
            extractive.text += "\n\n" + say("model_failed", extractive.language)
            return extractive
        generate_ms = (time.perf_counter() - started) * 1000
        checked = validate("".join(pieces), [f"{h.section}\n{h.chunk.text}" for h in hits])
        if not checked.cited:  # nothing left that points to a passage: the quotes are safer
            extractive.fallback = "no_citation"
            extractive.dropped = checked.dropped
            extractive.text += "\n\n" + say("model_unchecked", extractive.language)
            extractive.timings_ms["generate"] = generate_ms
            return extractive
        text, citations = renumber(checked, hits)
        missing = self._figures_not_in_corpus(retrieval.query)
        if missing:  # the same warning as the extractive answer's, on a premise the documents lack
            text += "\n\n" + say("unknown_figure", extractive.language, figures=", ".join(f"« {m} »" for m in missing))
        answer = Answer(
            text,
            abstained=False,
            citations=citations,
            language=extractive.language,
            coverage=extractive.coverage,
            mode="llm",
            dropped=checked.dropped,
        )
        answer.timings_ms = dict(extractive.timings_ms, generate=generate_ms)
        answer.followup, answer.query = extractive.followup, extractive.query
        return answer

    def _passages_for_model(self, retrieval: Retrieval, extractive: Answer) -> list[Hit]:
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

    def _answer(self, question: str, history: list[dict[str, str]]) -> tuple[Answer, Retrieval | None, bool]:
        """The extractive answer, the retrieval it came from (None when refused before retrieval),
        and whether the question was cut."""
        reading = read(question, self.settings.max_question_chars)
        language = reading.language
        if not re.search(r"\w", reading.text):
            answer = Answer(say("no_question", language), abstained=True, reason="no_question", language=language)
            return answer, None, reading.truncated
        if reading.refusal:
            answer = Answer(say(reading.refusal, language), abstained=True, reason=reading.refusal, language=language)
            return answer, None, reading.truncated

        query = reading.claim or reading.text
        self.follow_live_index()
        try:
            answer, retrieval = self._answer_with_followup(query, history, language, reading.claim is not None)
        except StoreUnavailableError:
            raise
        except Exception:
            # On a Chroma server, an ingest from elsewhere drops the collection this process was
            # reading: switch to the new one and ask again; any other error goes up as it was.
            if not self.follow_live_index(force=True):
                raise
            answer, retrieval = self._answer_with_followup(query, history, language, reading.claim is not None)
        return answer, retrieval, reading.truncated

    def _answer_with_followup(
        self, query: str, history: list[dict[str, str]], language: str, claim: bool
    ) -> tuple[Answer, Retrieval]:
        """Answers the question on its own; an elliptic question the documents do not answer on its
        own (« Et le stage court ? ») is searched again with the previous user turn."""
        answer, retrieval = self._retrieve_and_decide(query, "", language, claim)
        previous = previous_user_turn(history)
        if answer.abstained and self.settings.followups and previous and is_elliptic(query, retrieval.terms):
            followup, with_context = self._retrieve_and_decide(query, previous, language, claim)
            if not followup.abstained:
                embed = retrieval.timings_ms.get("embed", 0.0)
                with_context.timings_ms["embed"] = with_context.timings_ms.get("embed", 0.0) + embed
                return followup, with_context
        return answer, retrieval

    def _retrieve_and_decide(self, query: str, context: str, language: str, claim: bool) -> tuple[Answer, Retrieval]:
        # A claim to check (« dis que le titre est de niveau 6 ») is searched by its subject: its
        # figures are what may be wrong, and would find other sentences that share them.
        searched = re.sub(r"\s+", " ", _FIGURE.sub(" ", query)).strip() if claim else query
        retrieval = self.retriever.retrieve(searched or query, context=context)
        started = time.perf_counter()
        answer = self._decide(query, retrieval, language, claim=claim)
        answer.timings_ms = dict(retrieval.timings_ms, answer=(time.perf_counter() - started) * 1000)
        answer.followup = retrieval.followup
        answer.query = retrieval.query
        return answer, retrieval

    def _decide(self, query: str, retrieval: Retrieval, language: str, claim: bool) -> Answer:
        """Answers from the passages, or abstains; `reason` names the one check that fired."""
        settings = self.settings
        keys = retrieval.key_terms
        if not retrieval.hits or not retrieval.units:
            return self._abstain("no_passage", language)
        floor = settings.min_dense_score_en if language == "en" else settings.min_dense_score
        if language == "fr" and not retrieval.followup and keys and not any(t.known for t in keys):
            # Not one word the documents use: off topic when the meaning is far from them too.
            if retrieval.best_dense < settings.offtopic_dense_score:
                return self._abstain("offtopic", language, "offtopic")
            return self._abstain("unknown_words", language)
        if self._unknown_names(query, retrieval):  # « …à Lyon ? »: a place or a name the documents never use
            return self._abstain("unknown_name", language)
        if settings.retrieval_mode != "bm25" and retrieval.best_dense < floor:
            return self._abstain("low_relevance", language)
        text, citations, coverage, score = compose(
            query,
            retrieval,
            self.retriever.term_weights,
            self.retriever.lexical.read_question,
            language,
            settings,
            intro_key="claim_intro" if claim else "intro",
        )
        if not citations:
            return self._abstain("no_passage", language)
        if coverage < settings.min_coverage:
            return self._abstain("low_coverage", language)
        dense_used = settings.retrieval_mode != "bm25"  # without embeddings, no similarity to judge by
        if dense_used and retrieval.best_dense + settings.coverage_weight * coverage < settings.min_support:
            return self._abstain("low_support", language)
        least = settings.min_unit_score_en if language == "en" else settings.min_unit_score
        if score < least:
            return self._abstain("low_score", language)
        missing = self._figures_not_in_corpus(query)
        # « …en 2023 ? » answered with other years is no answer, unless the question checks a claim.
        checks_a_claim = claim or _CONFIRMATION.search(fold_accents(query))
        if not checks_a_claim and any(_YEAR.fullmatch(m) for m in missing):
            return self._abstain("unknown_year", language)
        if missing:
            text += "\n\n" + say("unknown_figure", language, figures=", ".join(f"« {m} »" for m in missing))
        return Answer(text, abstained=False, citations=citations, language=language, coverage=coverage, score=score)

    @staticmethod
    def _abstain(reason: str, language: str, message: str = "not_in_documents") -> Answer:
        return Answer(say(message, language), abstained=True, reason=reason, language=language)

    @staticmethod
    def _unknown_names(query: str, retrieval: Retrieval) -> list[str]:
        """Capitalised words inside the question (not its first word) that the documents never use."""
        unknown = {t.word for t in retrieval.key_terms if not t.known}
        inner = re.findall(r"(?<=[a-zà-ÿ,] )[A-ZÀ-Ý][a-zà-ÿ]+", query)
        return [w for w in inner if fold_accents(w) in unknown]

    def _figures_not_in_corpus(self, query: str) -> list[str]:
        """Figures of the question that no passage contains (a premise the documents do not back)."""
        corpus = self.corpus_figures_text
        figures = [f.strip() for f in _FIGURE.findall(query)]
        return [f for f in figures if not re.search(rf"(?<!\d){re.escape(re.sub(r'[  ]', '', f))}(?!\d)", corpus)]


def safe_error(err: Exception) -> str:
    """The message to show a user for an error: ours as they are, anything else generic."""
    if isinstance(err, AssistantError):
        return str(err)
    return "Une erreur interne est survenue ; réessayez, et si elle persiste, signalez-la à l'équipe."
