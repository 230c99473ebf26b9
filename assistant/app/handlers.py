"""What the chat does on each event: plain functions of plain values, testable without a browser.

`ChatHandlers` answers, streams, stores votes and comments, and serves the adviser view; the
per-session state is a `Conversation`. The layout that wires them to Gradio is `ui.py`; the HTML
they show is made, escaped, in `render.py`.
"""

from __future__ import annotations

import hmac
import logging
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from assistant.answer.messages import say
from assistant.answer.types import Answer, Draft, Final
from assistant.app.feedback import FeedbackStore
from assistant.app.render import (
    RATING_LABELS,
    format_number,
    render_answer,
    render_draft,
    render_interactions,
    render_notice,
    render_question,
    render_refusal,
    render_status,
    render_streaming,
    strip_tags,
    ui_text,
)
from assistant.config import Settings
from assistant.core import Assistant, safe_error
from assistant.errors import AssistantError
from assistant.reading.guard import detect_language

logger = logging.getLogger(__name__)


def export_folder(settings: Settings) -> Path:
    """Where the adviser's CSV exports are written: under the temporary folder (Gradio serves only
    files there or in the working folder), one folder per assistant (its collection prefix)."""
    return Path(tempfile.gettempdir()) / f"{settings.collection_prefix}-avis"


@dataclass
class Turn:
    """One exchange: the question and what was shown for it."""

    question: str  # "" for a notice that answers no question (empty or too long a message)
    html: str
    answer: dict[str, Any] | None = None  # Answer.to_dict(), None for a notice or an error
    interaction_id: int | None = None
    feedback_id: int | None = None


@dataclass
class Conversation:
    """The state of one browser session: its turns, and the vote a comment will be attached to."""

    turns: list[Turn] = field(default_factory=list)
    comment_target: int | None = None  # feedback id

    def history(self) -> list[dict[str, str]]:
        """The messages `Assistant.ask` reads for follow-ups: answered turns only, as plain text."""
        messages: list[dict[str, str]] = []
        for turn in self.turns:
            if turn.answer is not None:
                messages.append({"role": "user", "content": turn.question})
                messages.append({"role": "assistant", "content": str(turn.answer["answer"])})
        return messages

    def messages(self) -> list[dict[str, str]]:
        """The Chatbot's value (messages format)."""
        return [m for _, m in self._indexed()]

    def reply_at(self, message_index: int) -> Turn | None:
        """The turn whose reply is the Chatbot message at this index (None for a user message)."""
        indexed = self._indexed()
        if not 0 <= message_index < len(indexed) or indexed[message_index][1]["role"] != "assistant":
            return None
        return indexed[message_index][0]

    def _indexed(self) -> list[tuple[Turn, dict[str, str]]]:
        pairs: list[tuple[Turn, dict[str, str]]] = []
        for turn in self.turns:
            if turn.question:
                pairs.append((turn, {"role": "user", "content": render_question(turn.question)}))
            pairs.append((turn, {"role": "assistant", "content": turn.html}))
        return pairs


class ChatHandlers:
    """What the app does on each event; plain functions of plain values, testable without a browser."""

    def __init__(self, assistant: Assistant, settings: Settings, store: FeedbackStore) -> None:
        self.assistant = assistant
        self.settings = settings
        self.store = store

    def _too_long(self, question: str) -> str | None:
        limit = self.settings.max_input_chars
        if len(question) <= limit:
            return None
        language = detect_language(question[:limit])
        return ui_text("too_long", language, length=format_number(len(question)), limit=format_number(limit))

    def respond(
        self, question: str, conversation: Conversation
    ) -> Iterator[tuple[list[dict[str, str]], str, Conversation]]:
        """Streams the answer to `question`: yields (chat messages, text left in the input box, state).

        The answer grows step by step, then the last step shows it whole with its sources.
        """
        question = question or ""
        problem = self._too_long(question)
        if problem is None and not question.strip():
            problem = say("empty_question", "fr")
        if problem is not None:
            # Kept in the input box, so that an over-long question can be shortened, not retyped.
            conversation.turns.append(Turn("", render_notice(problem, detect_language(question))))
            yield conversation.messages(), question, conversation
            return

        language = detect_language(question)
        turn = Turn(question, render_streaming(ui_text("searching", language), language))
        history = conversation.history()
        conversation.turns.append(turn)
        yield conversation.messages(), "", conversation
        answer: Answer | None = None
        draft = ""
        try:
            for event in self.assistant.stream(question, history):
                match event:
                    case Final(answer=final):
                        answer = final
                    case Draft(text=piece):  # llm mode: the model's text as it comes, then the checked answer
                        draft += piece
                        turn.html = render_draft(draft, language)
                        yield conversation.messages(), "", conversation
        except Exception as err:  # shown as a message; the trace goes to the server log only
            if not isinstance(err, AssistantError):
                logger.exception("ask failed")
            turn.html = render_notice(safe_error(err), language)
            yield conversation.messages(), "", conversation
            return
        assert answer is not None

        data = answer.to_dict()
        turn.interaction_id = self._log("chat", question, data)
        for partial in _growing(answer.text, self.settings.stream_step_chars) if not draft else []:
            turn.html = render_streaming(partial, answer.language)
            yield conversation.messages(), "", conversation
            time.sleep(self.settings.stream_delay_ms / 1000)
        turn.answer = data
        index = len(conversation.turns) - 1
        turn.html = render_answer(answer.text, answer.citations, index, answer.language, answer.reason)
        yield conversation.messages(), "", conversation

    def _log(self, channel: str, question: str, data: dict[str, Any]) -> int | None:
        try:
            return self.store.log_interaction(channel, question, data)
        except Exception:  # the adviser log must never cost a user their answer
            logger.exception("could not log the interaction")
            return None

    def ask_api(self, question: str, history: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """Answers one question; returns the JSON of `python -m assistant ask --json`, or {"error": message}."""
        try:
            if not isinstance(question, str):
                raise AssistantError(say("empty_question", "fr"))
            problem = self._too_long(question)
            if problem is not None:
                return {"error": problem}
            data = self.assistant.ask(question, history or []).to_dict()
        except Exception as err:
            if not isinstance(err, AssistantError):
                logger.exception("ask failed")
            return {"error": safe_error(err)}
        self._log("api", question, data)
        return data

    def vote(
        self, conversation: Conversation, message_index: int, liked: bool | str | None
    ) -> tuple[str, bool, Conversation]:
        """Stores (or changes, or withdraws) the vote on a message.

        Returns:
            The status to show, whether to offer the comment box, and the state.
        """
        turn = conversation.reply_at(message_index)
        if turn is None or not turn.question:
            return render_status("Ce message n'est pas une réponse : il n'y a rien à évaluer."), False, conversation
        if liked not in (True, False):  # the same button clicked again: the vote is taken back
            if turn.feedback_id is not None:
                self.store.remove(turn.feedback_id)
            turn.feedback_id = None
            conversation.comment_target = None
            return render_status("Votre avis a été retiré."), False, conversation
        rating = 1 if liked is True else -1
        # One vote per answer and session: a change of mind updates it.
        if turn.feedback_id is None or not self.store.update(turn.feedback_id, rating=rating):
            answer = turn.answer or {}
            turn.feedback_id = self.store.add(
                question=turn.question,
                answer=str(answer.get("answer", strip_tags(turn.html))),
                citations=answer.get("citations", []),
                rating=rating,
                interaction_id=turn.interaction_id,
            )
        conversation.comment_target = turn.feedback_id
        thanks = f"Merci pour votre avis ({RATING_LABELS[rating]}). "
        return render_status(thanks + "Vous pouvez ajouter un commentaire ci-dessous (facultatif)."), True, conversation

    def comment(self, text: str, conversation: Conversation) -> tuple[str, str, bool]:
        """Attaches a comment to the vote just given. Returns (status, comment box text, keep box open)."""
        text = (text or "").strip()[: self.settings.max_comment_chars]
        if conversation.comment_target is None:
            return render_status("Donnez d'abord un avis (👍 ou 👎) sur une réponse."), text, False
        if not text:
            return render_status("Le commentaire est vide : écrivez-le, puis envoyez-le."), "", True
        self.store.update(conversation.comment_target, comment=text)
        return render_status("Merci, votre commentaire est enregistré."), "", False

    def new_conversation(self) -> tuple[list[dict[str, str]], str, Conversation, str, bool]:
        """A fresh, empty conversation: (messages, input box, state, status, comment box shown)."""
        return [], "", Conversation(), render_status(""), False

    def _allowed(self, password: str | None) -> bool:
        expected = self.settings.adviser_password.get_secret_value()
        if not expected:
            return False
        return hmac.compare_digest((password or "").encode("utf-8"), expected.encode("utf-8"))

    def adviser_view(self, password: str | None) -> str:
        """The recent questions with their answers, citations and feedback, or a refusal."""
        if not self._allowed(password):
            return render_refusal()
        return render_interactions(self.store.recent_interactions(self.settings.adviser_recent))

    def adviser_export(self, password: str | None) -> tuple[str, str | None]:
        """Writes every vote to a CSV file. Returns (status, file path or None if refused)."""
        if not self._allowed(password):
            return render_refusal(), None
        # Gradio serves only files under the temporary folder (or the working one); the previous
        # export is deleted so that copies of the votes do not pile up there.
        folder = export_folder(self.settings)
        folder.mkdir(mode=0o700, exist_ok=True)
        for old in folder.glob("avis-*.csv"):
            old.unlink(missing_ok=True)
        path = folder / f"avis-{datetime.now(UTC):%Y%m%d-%H%M%S-%f}.csv"
        path.write_text(self.store.export_csv(), encoding="utf-8-sig")  # the BOM lets Excel read accents
        return render_status(f"Export prêt : {self.store.count()} avis."), str(path)


def _growing(text: str, step: int) -> Iterator[str]:
    """Ever longer beginnings of `text`, cut between words."""
    end = 0
    while end < len(text):
        space = text.find(" ", min(len(text), end + step))
        end = len(text) if space < 0 else space
        yield text[:end]
