"""The `Assistant`: loads the model and the index once, then answers questions with citations."""

from __future__ import annotations

import re
import time
from typing import Any

from langchain_core.embeddings import Embeddings

from assistant.analysis import analyze, expand_word, fold_accents, is_out_of_scope
from assistant.answer import Answer, Citation, compose
from assistant.config import Settings
from assistant.embeddings import load_embeddings
from assistant.errors import AssistantError, InvalidQuestionError
from assistant.guard import clean, read
from assistant.keywords import QueryTerm
from assistant.messages import say
from assistant.retrieval import Retrieval, Retriever
from assistant.store import ChunkStore

_COUNTED = re.compile(r"\b(?:combien|cb|how many|how much)\s+(?:de |d'|d’)?(\w+)")
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

    def __init__(self, settings: Settings, embeddings: Embeddings, store: ChunkStore) -> None:
        from langchain_chroma import Chroma

        self.settings = settings
        self.embeddings = embeddings
        self.store = store
        collection = store.live_collection()
        self.collection_name = collection.name
        chunks, _ = store.read_all(collection)
        vectorstore = Chroma(
            client=store.client,
            collection_name=collection.name,
            embedding_function=embeddings,
            create_collection_if_not_exists=False,
        )
        self.retriever = Retriever(settings, embeddings, vectorstore, chunks)
        # Digit groups joined once (« 24 000 » -> 24000), for the figure check of every answer.
        self.corpus_figures_text = re.sub(r"[  ]", "", "\n".join(c.text for c in chunks))
        embeddings.embed_query("Combien d'heures dure la formation ?")  # the first real question is not slower

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
        started = time.perf_counter()
        if not isinstance(question, str) or not question.strip():
            raise InvalidQuestionError(say("empty_question", "fr"))
        answer = self._answer(question, self._clean_history(history))
        answer.latency_ms = (time.perf_counter() - started) * 1000
        answer.timings_ms = {"embed": 0.0, "retrieve": 0.0, "answer": 0.0} | answer.timings_ms
        return answer

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

    def _answer(self, question: str, history: list[dict[str, str]]) -> Answer:
        reading = read(question, self.settings.max_question_chars)
        language = reading.language
        if not re.search(r"\w", reading.text):
            return Answer(say("no_question", language), abstained=True, reason="no_question", language=language)
        if reading.refusal:
            return Answer(say(reading.refusal, language), abstained=True, reason=reading.refusal, language=language)

        query = reading.claim or reading.text
        retrieval = self.retriever.retrieve(query, history)
        started = time.perf_counter()
        answer = self._decide(query, retrieval, language, claim=reading.claim is not None)
        answer.timings_ms = dict(retrieval.timings_ms, answer=(time.perf_counter() - started) * 1000)
        answer.followup = retrieval.followup
        answer.query = retrieval.query
        if reading.truncated:
            note = say("truncated", language, limit=self.settings.max_question_chars)
            answer.text = f"{answer.text}\n\n{note}"
        return answer

    def _decide(self, query: str, retrieval: Retrieval, language: str, claim: bool) -> Answer:
        """Answers from the passages, or abstains when they do not support an answer."""
        key_terms = [t for t in retrieval.terms if t.key and not t.word.isdigit()]
        unknown = [t for t in key_terms if not t.known]
        # A topic candidates ask about that the documents never mention (pay, cost, dates,
        # places…): nearby passages would only look like an answer.
        if any(is_out_of_scope(t.word) for t in unknown):
            return self._abstain("not_in_documents", language)
        if not retrieval.followup and key_terms and len(unknown) == len(key_terms):
            return self._abstain("offtopic", language)
        # A place or a name the documents never use, or a question made mostly of unknown words.
        if self._unknown_names(query, unknown):
            return self._abstain("not_in_documents", language)
        if len(unknown) * 2 > len(key_terms) or not retrieval.hits:
            return self._abstain("not_in_documents", language)
        if self.settings.retrieval_mode != "bm25" and retrieval.best_dense < self.settings.min_dense_score:
            return self._abstain("not_in_documents", language)

        text, citations, coverage = compose(
            query,
            retrieval,
            self.retriever.keywords,
            language,
            self.settings.max_cited,
            intro_key="claim_intro" if claim else "intro",
        )
        if not citations or coverage < self.settings.min_coverage:
            return self._abstain("not_in_documents", language)
        missing = self._figures_not_in_corpus(query)
        # « Combien de mois… ? » answered with hours, or « …en 2023 ? » with other years, is no answer.
        checks_a_claim = claim or _CONFIRMATION.search(fold_accents(query))
        if not self._counts_what_was_asked(query, citations) or (
            not checks_a_claim and any(_YEAR.fullmatch(m) for m in missing)
        ):
            return self._abstain("not_in_documents", language)
        if missing:
            text += "\n\n" + say("unknown_figure", language, figures=", ".join(f"« {m} »" for m in missing))
        return Answer(text, abstained=False, citations=citations, language=language, coverage=coverage)

    @staticmethod
    def _abstain(reason: str, language: str) -> Answer:
        return Answer(say(reason, language), abstained=True, reason=reason, language=language)

    @staticmethod
    def _unknown_names(query: str, unknown: list[QueryTerm]) -> list[str]:
        """Capitalised words inside the question that the documents never use: places, names."""
        words = {t.word for t in unknown}
        inner = re.findall(r"(?<=[a-zà-ÿ,] )[A-ZÀ-Ý][a-zà-ÿ]+", query)
        return [w for w in inner if fold_accents(w) in words]

    def _counts_what_was_asked(self, query: str, citations: list[Citation]) -> bool:
        """Whether the quoted sentences count the thing « combien de … » asks about."""
        match = _COUNTED.search(fold_accents(query))
        if not match:
            return True
        vocabulary = self.retriever.keywords.vocabulary
        asked = {s for s in expand_word(match.group(1)) if s in vocabulary}
        quoted = set(analyze(" ".join(q for c in citations for q in c.quotes)))
        return not asked or bool(asked & quoted)

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
