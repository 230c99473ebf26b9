"""The Gradio chat: answers stream in with their sources, 👍/👎 feedback, an adviser view, `/ask`.

`build_app(assistant, settings)` builds the app and `serve(settings)` launches it; nothing runs at
import time. The handlers live in `ChatHandlers` so tests can call them directly. The HTML they
show is made, escaped, in `assistant/app/render.py`; the page's style is `assistant/app/ui.css`.
"""

from __future__ import annotations

import hmac
import html
import logging
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import gradio as gr

from assistant.answer.compose import Answer
from assistant.answer.guard import detect_language
from assistant.answer.messages import say
from assistant.app.cli import load_or_build_assistant
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
from assistant.profile import current_profile

logger = logging.getLogger(__name__)

# Read by Gradio when the app is launched; shipped as package data.
CSS_PATH = Path(__file__).with_name("ui.css")

SCOPE = (
    "Je réponds, en citant mes sources, à partir des documents du titre et de ce qui l'entoure ({topics}) "
    "— pas sur votre situation personnelle (dossier, financement, droits)."
)
# The example buttons: the profile's questions (profile.toml).
EXAMPLES = current_profile().examples


# ---------------------------------------------------------------- per-session conversation


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


# ---------------------------------------------------------------- handlers


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
            for item in self.assistant.stream(question, history):
                if isinstance(item, Answer):
                    answer = item
                    continue
                draft += item  # llm mode: the model's text as it comes, replaced by the checked answer
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
        folder = Path(tempfile.gettempdir()) / f"{self.settings.collection_prefix}-avis"
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


# ---------------------------------------------------------------- the app

# The page template says lang="en"; the app speaks French.
_JS = "() => { document.documentElement.lang = 'fr'; }"


def _theme() -> gr.themes.Base:
    # Sizes in rem so text follows the browser's font-size setting as well as its zoom; dark blue
    # buttons keep white labels above 4.5:1 contrast (the default orange does not).
    text = gr.themes.Size(
        xxs="0.625rem", xs="0.75rem", sm="0.875rem", md="1rem", lg="1.125rem", xl="1.375rem", xxl="1.625rem"
    )
    return gr.themes.Default(
        primary_hue=gr.themes.colors.blue,
        neutral_hue=gr.themes.colors.slate,
        text_size=text,
        font=["system-ui", "-apple-system", "Segoe UI", "Roboto", "sans-serif"],
        font_mono=["ui-monospace", "Consolas", "monospace"],
    ).set(
        button_primary_background_fill="#1d4ed8",
        button_primary_background_fill_hover="#1e40af",
        button_primary_text_color="#ffffff",
        body_text_color_subdued="#475569",
        input_placeholder_color="#64748b",
    )


def launch_options(settings: Settings, **overrides: Any) -> dict[str, Any]:
    """Keyword arguments of `gr.Blocks.launch` (Gradio 6 takes the theme and CSS there)."""
    options: dict[str, Any] = {
        "server_name": settings.host,
        "server_port": settings.port,
        "theme": _theme(),
        "css_paths": [CSS_PATH],
        "js": _JS,
        "footer_links": ["api"],
        "show_error": False,  # an unexpected error shows our message, not the exception text
        "share": False,
    }
    return options | overrides


def build_app(assistant: Assistant, settings: Settings, store: FeedbackStore | None = None) -> gr.Blocks:
    """Builds the Gradio app (chat at `/`, adviser view at `/conseiller`, API `/ask` and `/chat`).

    Returns:
        A `gr.Blocks`; launch it with `app.launch(**launch_options(settings))`.
    """
    store = store or FeedbackStore(settings.feedback_db, settings.db_busy_timeout_ms, settings.max_interactions)
    handlers = ChatHandlers(assistant, settings, store)
    private: dict[str, Any] = {"api_visibility": "private"}
    asking: dict[str, Any] = {"concurrency_id": "ask", "concurrency_limit": settings.concurrency_limit}

    # delete_cache: Gradio's copies of the CSV exports are removed after an hour.
    profile = current_profile()
    title = f"{profile.name} ({profile.reference})" if profile.reference else profile.name
    scope = SCOPE.format(topics=profile.topics.get("fr", ""))
    with gr.Blocks(title=f"Assistant — {title}", analytics_enabled=False, delete_cache=(3600, 3600)) as app:
        gr.HTML(f"<h1>{html.escape(title)}</h1><p>{html.escape(scope)}</p>", elem_id="header", js_on_load=None)
        conversation = gr.State(Conversation())
        chatbot = gr.Chatbot(
            label="Conversation",
            elem_id="chat",
            height="60vh",
            min_height=320,
            latex_delimiters=[],
            feedback_options=("Like", "Dislike"),
            buttons=[],
            placeholder="Posez une question sur le titre, ou choisissez un exemple ci-dessous.",
        )
        # Right under the chat, where the 👍/👎 buttons are.
        status = gr.HTML(render_status(""), elem_id="feedback-status", js_on_load=None)
        with gr.Group(visible=False, elem_id="comment-box") as comment_box:
            comment = gr.Textbox(
                label="Votre commentaire sur cette réponse (facultatif)",
                lines=2,
                max_length=settings.max_comment_chars,
                elem_id="comment",
            )
            send_comment = gr.Button("Envoyer le commentaire", size="sm", elem_id="send-comment")
        with gr.Row(equal_height=True):
            question = gr.Textbox(
                label="Votre question",
                placeholder="Par exemple : combien d'heures dure la formation ?",
                lines=1,  # Enter sends, Shift+Enter starts a new line (Gradio does so only at lines=1)
                max_lines=6,
                scale=4,
                min_width=200,
                elem_id="question",
                autofocus=True,
            )
            send = gr.Button("Envoyer", variant="primary", scale=1, min_width=100, elem_id="send")
        new = gr.Button("Nouvelle conversation", variant="secondary", size="sm", elem_id="new-conversation")
        gr.HTML('<p id="examples-title">Exemples de questions :</p>', js_on_load=None)
        with gr.Row(elem_id="examples"):
            example_buttons = [gr.Button(text, size="sm", variant="secondary") for text in EXAMPLES]

        chat_io: dict[str, Any] = {"inputs": [question, conversation], "outputs": [chatbot, question, conversation]}
        question.submit(handlers.respond, **chat_io, api_name="chat", **asking)
        send.click(handlers.respond, **chat_io, **private, **asking)
        for button in example_buttons:
            button.click(
                handlers.respond,
                inputs=[button, conversation],
                outputs=[chatbot, question, conversation],
                **private,
                **asking,
            )

        def on_like(state: Conversation, data: gr.LikeData) -> tuple[str, Any, Conversation]:
            index = data.index[0] if isinstance(data.index, (list, tuple)) else data.index
            shown, offer, state = handlers.vote(state, int(index), data.liked)
            return shown, gr.update(visible=offer), state

        chatbot.like(on_like, inputs=[conversation], outputs=[status, comment_box, conversation], **private)

        def on_comment(text: str, state: Conversation) -> tuple[str, str, Any]:
            shown, left, keep = handlers.comment(text, state)
            return shown, left, gr.update(visible=keep)

        comment_io: dict[str, Any] = {"inputs": [comment, conversation], "outputs": [status, comment, comment_box]}
        send_comment.click(on_comment, **comment_io, **private)
        comment.submit(on_comment, **comment_io, **private)

        def on_new() -> tuple[Any, ...]:
            messages, text, state, shown, offer = handlers.new_conversation()
            return messages, text, state, shown, gr.update(visible=offer)

        reset: dict[str, Any] = {"outputs": [chatbot, question, conversation, status, comment_box]}
        new.click(on_new, **reset, **private)
        chatbot.clear(on_new, **reset, **private)  # the Chatbot's own 🗑 button must forget the history too
        gr.api(handlers.ask_api, api_name="ask", **asking)

    with app.route("Conseiller", "/conseiller", show_in_navbar=False):
        _adviser_page(handlers, settings)

    configure_queue(app, settings)
    return app


def configure_queue(app: gr.Blocks, settings: Settings) -> None:
    """Gradio's queue as the app uses it (the load test's baseline app shares it)."""
    # Gradio recomputes its monitoring summary (a pandas group-by over up to 10,000 past events)
    # after every event; at 50 users that was 7 % of the server's time. Nothing here reads it.
    os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", "1000")
    os.environ.setdefault("GRADIO_ANALYTICS_MAX_EVENTS", "1000")
    app.queue(default_concurrency_limit=settings.concurrency_limit, max_size=settings.max_queue_size)


def _adviser_page(handlers: ChatHandlers, settings: Settings) -> None:
    """The adviser view; without a configured password it only says it is disabled."""
    gr.HTML("<h1>Vue conseiller</h1>", elem_id="adviser-header", js_on_load=None)
    if not settings.adviser_password.get_secret_value():
        gr.HTML(
            '<p class="notice">La vue conseiller est désactivée : définissez ASSISTANT_ADVISER_PASSWORD '
            "puis relancez l'application.</p>",
            js_on_load=None,
        )
        return
    with gr.Row(equal_height=True):
        password = gr.Textbox(
            label="Mot de passe conseiller", type="password", scale=3, min_width=200, elem_id="adviser-password"
        )
        show = gr.Button(
            "Afficher les questions récentes", variant="primary", scale=1, min_width=160, elem_id="adviser-show"
        )
    export = gr.Button("Exporter les avis (CSV)", size="sm", elem_id="adviser-export")
    export_status = gr.HTML("", js_on_load=None)
    export_file = gr.File(label="Fichier CSV des avis", visible=False, interactive=False, elem_id="adviser-file")
    view = gr.HTML("", elem_classes=["adviser"], elem_id="adviser-view", js_on_load=None)
    # One adviser request at a time: slows password guessing down.
    guarded: dict[str, Any] = {"api_visibility": "private", "concurrency_limit": 1, "concurrency_id": "adviser"}
    show.click(handlers.adviser_view, inputs=[password], outputs=[view], **guarded)
    password.submit(handlers.adviser_view, inputs=[password], outputs=[view], **guarded)

    def on_export(given: str) -> tuple[str, Any]:
        shown, path = handlers.adviser_export(given)
        return shown, gr.update(value=path, visible=path is not None)

    export.click(on_export, inputs=[password], outputs=[export_status, export_file], **guarded)


def serve(settings: Settings) -> int:
    """Loads the assistant (building the index first if there is none), then serves the app until
    interrupted. Returns the process exit code."""
    try:
        app = build_app(load_or_build_assistant(settings), settings)
    except AssistantError as err:
        print(f"Erreur : {err}", file=sys.stderr)
        return 1
    app.launch(**launch_options(settings))
    return 0
