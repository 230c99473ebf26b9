"""The Gradio chat: answers stream in with their sources, 👍/👎 feedback, an adviser view, `/ask`.

`build_app(assistant, ui_settings)` builds the app and `serve(settings, ui_settings)` launches it;
nothing runs at import time. The handlers live in `ChatHandlers` so tests can call them directly.

Security: every text that comes from the question, the answer or a corpus passage is HTML-escaped
before it is put in HTML (a passage may hold markup); the Chatbot's own sanitiser is only a second
line of defence.
"""

from __future__ import annotations

import hmac
import html
import logging
import re
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import gradio as gr
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from assistant.config import PROJECT_DIR, Settings
from assistant.core import Assistant, safe_error
from assistant.errors import AssistantError, IndexMissingError
from assistant.feedback import FeedbackStore, Interaction
from assistant.guard import detect_language
from assistant.messages import say

logger = logging.getLogger(__name__)


class UISettings(BaseSettings):
    """Settings of the web app (to merge into `Settings` later); each default works on a laptop."""

    model_config = SettingsConfigDict(env_prefix="ASSISTANT_", extra="ignore", frozen=True)

    host: str = Field("127.0.0.1", description="Address the app listens on; '0.0.0.0' only to serve a network.")
    port: int = Field(7860, description="Port the app listens on.", ge=1, le=65535)
    data_dir: Path = Field(
        PROJECT_DIR / ".data", description="Folder of the feedback database feedback.sqlite3 (ignored by git)."
    )
    adviser_password: SecretStr = Field(
        SecretStr(""), description="Password of the adviser view; empty disables the view."
    )
    concurrency_limit: int = Field(4, description="Questions answered at once; others wait in the queue.", ge=1)
    max_queue_size: int = Field(64, description="Requests the queue holds; beyond, new ones are refused.", ge=1)
    max_input_chars: int = Field(
        2000, description="Longest message the chat accepts; a longer one is refused, with this limit stated.", ge=10
    )
    max_comment_chars: int = Field(1000, description="Longest feedback comment.", ge=10)
    stream_step_chars: int = Field(24, description="Characters added to the answer at each streaming step.", ge=1)
    stream_delay_ms: int = Field(15, description="Pause between two streaming steps, in milliseconds.", ge=0)
    adviser_recent: int = Field(50, description="Answered questions listed in the adviser view.", ge=1)
    max_interactions: int = Field(1000, description="Answered questions kept in the database for advisers.", ge=1)
    db_busy_timeout_ms: int = Field(10_000, description="How long a database write waits for another one.", ge=0)

    @property
    def feedback_db(self) -> Path:
        return self.data_dir / "feedback.sqlite3"


TITLE = "Moniteur d'atelier en milieu de travail protégé (RNCP39099)"
SCOPE = (
    "Je réponds, en citant mes sources, à partir des documents officiels du titre (métier, formation, "
    "voies d'accès, blocs de compétences, certification) — pas sur votre situation personnelle "
    "(dossier, financement, droits)."
)
EXAMPLES = (
    "Combien d'heures dure la formation ?",
    "Quel est le niveau du titre ?",
    "Quels sont les blocs de compétences ?",
    "Peut-on obtenir le titre par la VAE ?",
    "Comment se déroule la certification ?",
)
_TEXTS: dict[str, dict[str, str]] = {
    "too_long": {
        "fr": "Votre message compte {length} caractères : la limite est de {limit}. "
        "Raccourcissez-le, puis renvoyez-le.",
        "en": "Your message has {length} characters: the limit is {limit}. Please shorten it and send it again.",
    },
    "searching": {"fr": "Je cherche dans les documents…", "en": "Searching the documents…"},
    "sources": {"fr": "Sources", "en": "Sources"},
    "source": {"fr": "Source", "en": "Source"},
    "error": {"fr": "Erreur", "en": "Error"},
    "whole_passage": {"fr": "Voir tout le passage", "en": "Show the whole passage"},
}
# Words beside the emoji: they stay readable where no emoji font is installed.
_RATING = {1: "👍 utile", -1: "👎 pas utile"}
_MARKER = re.compile(r"\[(\d+)\](?=\s|$)")
_BOLD = re.compile(r"\*\*([^*<>\n]+?)\*\*")  # the corpus marks a few words **like this**


def _t(key: str, language: str, **values: object) -> str:
    text = _TEXTS[key]["en" if language == "en" else "fr"]
    return text.format(**values) if values else text


def _number(value: int) -> str:
    """2000 -> « 2 000 » (French thousands separator, a narrow no-break space)."""
    return f"{value:,}".replace(",", "\u202f")


# ---------------------------------------------------------------- rendering (all text escaped)


def _inline(text: str) -> str:
    """Escaped text with line breaks kept, on one line (a blank line would end the Chatbot's HTML block
    and let its Markdown parser read the rest)."""
    escaped = html.escape(text, quote=True)
    escaped = _BOLD.sub(r"<strong>\1</strong>", escaped)
    escaped = re.sub(r"\n\s*\n\s*", "<br><br>", escaped.strip())
    return escaped.replace("\n", "<br>")


def highlight(passage: str, quotes: Sequence[str]) -> str:
    """The passage, escaped, with each quoted sentence in `<mark>`.

    A quote is looked for exactly, then with any run of whitespace standing for its spaces; a
    quote not found is simply not highlighted (the passage is still shown whole).
    """
    spans: list[tuple[int, int]] = []
    for quote in quotes:
        quote = quote.strip()
        if not quote:
            continue
        start = passage.find(quote)
        if start >= 0:
            spans.append((start, start + len(quote)))
            continue
        pattern = r"\s+".join(re.escape(word) for word in quote.split())
        match = re.search(pattern, passage)
        if match:
            spans.append(match.span())
    parts, position = [], 0
    for start, end in sorted(spans):
        if start < position:  # overlapping quotes: the first one wins
            continue
        parts.append(html.escape(passage[position:start]))
        parts.append(f"<mark>{html.escape(passage[start:end])}</mark>")
        position = end
    parts.append(html.escape(passage[position:]))
    markup = _BOLD.sub(r"<strong>\1</strong>", "".join(parts).strip())
    return re.sub(r"\n\s*\n\s*", "<br><br>", markup).replace("\n", "<br>")


def excerpt(passage: str, quotes: Sequence[str]) -> tuple[str, bool]:
    """The paragraphs of a passage that hold its quotes, highlighted, and whether that is all of it.

    The answer quotes sentences; showing their paragraphs keeps each source short enough to read
    in the chat, and the whole passage stays one click away.
    """
    paragraphs = [p for p in re.split(r"\n\s*\n", passage) if p.strip()]
    marked = [highlight(p, quotes) for p in paragraphs]
    kept = [m for m in marked if "<mark>" in m]
    if not kept or len(kept) == len(marked):
        return highlight(passage, quotes), True
    return "<br><br>".join(kept), False


def source_id(turn: int, n: int) -> str:
    """The HTML id of source n of the turn-th answer, the target of its `[n]` markers."""
    return f"source-{turn}-{n}"


def render_question(question: str) -> str:
    """A user message as HTML: shown as typed, never interpreted."""
    return f'<div class="question">{_inline(question)}</div>'


def render_streaming(text: str, language: str) -> str:
    """A partial answer while it streams in."""
    return f'<div class="answer streaming" lang="{language}">{_inline(text)}</div>'


def render_answer(answer_text: str, citations: Sequence[Any], turn: int, language: str, reason: str) -> str:
    """The full answer: its text, each `[n]` a link to source n, then the numbered sources.

    Only the citations of the answer (retrieved passages) are listed.
    """
    numbers = {c.n for c in citations}

    def link(match: re.Match[str]) -> str:
        n = int(match.group(1))
        if n not in numbers:
            return match.group(0)
        # The Chatbot's sanitiser drops aria-* and role attributes: a hidden word names the link.
        hidden = f'<span class="visually-hidden">{_t("source", language)} </span>'
        return f'<a class="cite" href="#{source_id(turn, n)}">{hidden}[{n}]</a>'

    blocks: list[str] = []
    items: list[str] = []
    for line in answer_text.split("\n"):
        body = _MARKER.sub(link, _inline(line.strip()))
        if line.startswith("- "):
            items.append(f"<li>{body[2:]}</li>")
            continue
        if items:
            blocks.append("<ul>" + "".join(items) + "</ul>")
            items = []
        if line.strip():
            blocks.append(f"<p>{body}</p>")
    if items:
        blocks.append("<ul>" + "".join(items) + "</ul>")
    kind = "answered" if reason == "answered" else "abstained"
    return (
        f'<div class="answer {kind}" lang="{language}">' + "".join(blocks)
        + render_sources(citations, turn, language) + "</div>"
    )


def render_sources(citations: Sequence[Any], turn: int, language: str) -> str:
    """The numbered sources of an answer: document, section, passage with its quotes highlighted."""
    if not citations:
        return ""
    title = _t("sources", language)
    items = []
    for c in citations:
        page = f", p. {int(c.page)}" if getattr(c, "page", None) else ""
        shown, whole = excerpt(c.text, c.quotes)
        rest = "" if whole else (
            f'<details><summary>{_t("whole_passage", language)}</summary>'
            f'<blockquote class="passage" lang="fr">{highlight(c.text, c.quotes)}</blockquote></details>'
        )
        items.append(
            f'<li id="{source_id(turn, c.n)}" class="source" tabindex="-1">'
            f'<p class="source-head"><span class="source-n">[{c.n}]</span> '
            f'<span class="source-doc">{html.escape(c.source)}{page}</span>'
            f'<span class="source-section"> — {html.escape(c.section)}</span></p>'
            f'<blockquote class="passage" lang="fr">{shown}</blockquote>{rest}</li>'
        )
    return f'<section class="sources"><h2 class="sources-title">{title}</h2><ol>{"".join(items)}</ol></section>'


def render_notice(text: str, language: str) -> str:
    """An error, shown as a readable message (never a stack trace)."""
    return (
        f'<div class="notice error" lang="{language}"><strong>{_t("error", language)} :</strong> '
        f"{_inline(text)}</div>"
    )


def render_interactions(interactions: Sequence[Interaction]) -> str:
    """The adviser view: recent questions, answers, citations with scores and ranks, feedback."""
    if not interactions:
        return '<p class="adviser-empty">Aucune question n\'a encore été posée.</p>'
    up = sum(f.rating == 1 for i in interactions for f in i.feedback)
    down = sum(f.rating == -1 for i in interactions for f in i.feedback)
    cards = [
        f'<p class="adviser-summary">{len(interactions)} question(s) récente(s) — {up} × {_RATING[1]}, '
        f"{down} × {_RATING[-1]}</p>"
    ]
    for item in interactions:
        citations = "".join(
            f"<li>[{html.escape(str(c.get('n')))}] {html.escape(str(c.get('source')))} — "
            f"{html.escape(str(c.get('section')))}<br><span class=\"scores\">rang {html.escape(str(c.get('rank')))}"
            f" · score {html.escape(str(c.get('score')))} · dense {html.escape(str(c.get('dense_score')))}"
            f" · BM25 {html.escape(str(c.get('bm25_score')))}</span></li>"
            for c in item.citations
        )
        votes = "".join(
            f"<li>{_RATING[f.rating]} · {html.escape(f.created_at)}"
            + (f" — « {_inline(f.comment)} »" if f.comment else "")
            + "</li>"
            for f in item.feedback
        )
        cards.append(
            '<article class="interaction">'
            f'<p class="meta">n° {item.id} · {html.escape(item.created_at)} · {html.escape(item.channel)} · '
            f"{html.escape(item.reason)} · {item.latency_ms:.0f} ms</p>"
            f'<p class="q"><strong>Question :</strong> {_inline(item.question)}</p>'
            f'<div class="a"><strong>Réponse :</strong><br>{_inline(item.answer)}</div>'
            + (f'<p><strong>Citations :</strong></p><ul class="citations">{citations}</ul>' if citations else "")
            + (f'<p><strong>Avis :</strong></p><ul class="votes">{votes}</ul>' if votes else
               '<p class="novote">Aucun avis.</p>')
            + "</article>"
        )
    return "".join(cards)


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

    def __init__(self, assistant: Assistant, ui: UISettings, store: FeedbackStore) -> None:
        self.assistant = assistant
        self.ui = ui
        self.store = store

    def _too_long(self, question: str) -> str | None:
        if len(question) <= self.ui.max_input_chars:
            return None
        language = detect_language(question[: self.ui.max_input_chars])
        return _t("too_long", language, length=_number(len(question)), limit=_number(self.ui.max_input_chars))

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
        turn = Turn(question, render_streaming(_t("searching", language), language))
        history = conversation.history()
        conversation.turns.append(turn)
        yield conversation.messages(), "", conversation
        try:
            answer = self.assistant.ask(question, history)
        except Exception as err:  # shown as a message; the trace goes to the server log only
            if not isinstance(err, AssistantError):
                logger.exception("ask failed")
            turn.html = render_notice(safe_error(err), language)
            yield conversation.messages(), "", conversation
            return

        data = answer.to_dict()
        turn.interaction_id = self._log("chat", question, data)
        for partial in _growing(answer.text, self.ui.stream_step_chars):
            turn.html = render_streaming(partial, answer.language)
            yield conversation.messages(), "", conversation
            time.sleep(self.ui.stream_delay_ms / 1000)
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
            return _status("Ce message n'est pas une réponse : il n'y a rien à évaluer."), False, conversation
        if liked not in (True, False):  # the same button clicked again: the vote is taken back
            if turn.feedback_id is not None:
                self.store.remove(turn.feedback_id)
            turn.feedback_id = None
            conversation.comment_target = None
            return _status("Votre avis a été retiré."), False, conversation
        rating = 1 if liked is True else -1
        # One vote per answer and session: a change of mind updates it.
        if turn.feedback_id is None or not self.store.update(turn.feedback_id, rating=rating):
            answer = turn.answer or {}
            turn.feedback_id = self.store.add(
                question=turn.question,
                answer=str(answer.get("answer", _strip_tags(turn.html))),
                citations=answer.get("citations", []),
                rating=rating,
                interaction_id=turn.interaction_id,
            )
        conversation.comment_target = turn.feedback_id
        thanks = f"Merci pour votre avis ({_RATING[rating]})."
        return _status(thanks + " Vous pouvez ajouter un commentaire ci-dessous (facultatif)."), True, conversation

    def comment(self, text: str, conversation: Conversation) -> tuple[str, str, bool]:
        """Attaches a comment to the vote just given. Returns (status, comment box text, keep box open)."""
        text = (text or "").strip()[: self.ui.max_comment_chars]
        if conversation.comment_target is None:
            return _status("Donnez d'abord un avis (👍 ou 👎) sur une réponse."), text, False
        if not text:
            return _status("Le commentaire est vide : écrivez-le, puis envoyez-le."), "", True
        self.store.update(conversation.comment_target, comment=text)
        return _status("Merci, votre commentaire est enregistré."), "", False

    def new_conversation(self) -> tuple[list[dict[str, str]], str, Conversation, str, bool]:
        """A fresh, empty conversation: (messages, input box, state, status, comment box shown)."""
        return [], "", Conversation(), _status(""), False

    def _allowed(self, password: str | None) -> bool:
        expected = self.ui.adviser_password.get_secret_value()
        if not expected:
            return False
        return hmac.compare_digest((password or "").encode("utf-8"), expected.encode("utf-8"))

    def adviser_view(self, password: str | None) -> str:
        """The recent questions with their answers, citations and feedback, or a refusal."""
        if not self._allowed(password):
            return _refusal()
        return render_interactions(self.store.recent_interactions(self.ui.adviser_recent))

    def adviser_export(self, password: str | None) -> tuple[str, str | None]:
        """Writes every vote to a CSV file. Returns (status, file path or None if refused)."""
        if not self._allowed(password):
            return _refusal(), None
        # Gradio serves only files under the temporary folder (or the working one); the previous
        # export is deleted so that copies of the votes do not pile up there.
        folder = Path(tempfile.gettempdir()) / "rncp39099-avis"
        folder.mkdir(mode=0o700, exist_ok=True)
        for old in folder.glob("avis-*.csv"):
            old.unlink(missing_ok=True)
        path = folder / f"avis-{datetime.now(UTC):%Y%m%d-%H%M%S-%f}.csv"
        path.write_text(self.store.export_csv(), encoding="utf-8-sig")  # the BOM lets Excel read accents
        return _status(f"Export prêt : {self.store.count()} avis."), str(path)


def _growing(text: str, step: int) -> Iterator[str]:
    """Ever longer beginnings of `text`, cut between words."""
    end = 0
    while end < len(text):
        space = text.find(" ", min(len(text), end + step))
        end = len(text) if space < 0 else space
        yield text[:end]


def _strip_tags(markup: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", markup)).strip()


def _status(text: str) -> str:
    return f'<p class="status" role="status">{html.escape(text)}</p>'


def _refusal() -> str:
    return (
        '<p class="notice error" role="alert">Accès refusé : mot de passe conseiller absent ou incorrect.</p>'
    )


# ---------------------------------------------------------------- the app

CSS = """
/* A multipage app gets a navigation bar, and gr.Navbar(visible=False) does not hide it in Gradio 6.31:
   the adviser page is reached by its address only. */
.nav-holder { display: none !important; }
.gradio-container { max-width: 60rem !important; margin: 0 auto; }
#header h1 { font-size: 1.5rem; margin: 0 0 .25rem; line-height: 1.3; }
#header p { margin: 0; color: var(--body-text-color); }
#chat .answer p, #chat .question { margin: 0 0 .5rem; }
#chat .answer ul { margin: .25rem 0 .5rem 1.25rem; padding: 0; }
#chat a.cite { position: relative; font-weight: 600; color: #1d4ed8; text-decoration: underline; padding: 0 .1rem; }
.dark #chat a.cite { color: #93c5fd; }
#chat .sources { border-top: 1px solid var(--border-color-primary); margin-top: .75rem; padding-top: .5rem; }
#chat .sources-title { font-size: 1rem; font-weight: 700; margin: 0 0 .25rem; }
/* Read by screen readers, not shown; placed inside its link so that a pointer never misses it. */
.visually-hidden { position: absolute !important; top: 0; left: 0; width: 1px; height: 1px; padding: 0;
  overflow: hidden; clip-path: inset(50%); white-space: nowrap; border: 0; }
#chat .sources ol { list-style: none; margin: 0; padding: 0; }
#chat .source { margin: 0 0 .75rem; scroll-margin-top: 1rem; }
#chat .source:target, #chat .source:focus { outline: 3px solid #1d4ed8; outline-offset: 2px; border-radius: 4px; }
#chat .source-head { margin: 0 0 .25rem; font-weight: 600; overflow-wrap: anywhere; }
#chat .source-section { font-weight: 400; }
#chat .passage { margin: 0; padding: .5rem .75rem; border-left: 4px solid #64748b; background: rgba(100,116,139,.08);
  font-size: .95em; overflow-wrap: anywhere; }
#chat details { margin: .25rem 0 0; }
#chat summary { cursor: pointer; color: #1d4ed8; text-decoration: underline; width: fit-content; }
.dark #chat summary { color: #93c5fd; }
#chat mark { background: #fde68a; color: #111827; padding: 0 .1rem; }
#chat .notice.error, .adviser .notice.error { border-left: 4px solid #b91c1c; padding: .25rem .5rem; }
#examples-title { margin: .5rem 0 .25rem; font-weight: 600; }
#examples { gap: .5rem; flex-wrap: wrap; }
#examples button { flex: 1 1 14rem; white-space: normal; }
.status { margin: .25rem 0; }
.adviser .interaction { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: .75rem;
  margin: 0 0 .75rem; overflow-wrap: anywhere; }
.adviser .meta, .adviser .scores { color: var(--body-text-color-subdued); font-size: .9em; }
:focus-visible { outline: 3px solid #1d4ed8 !important; outline-offset: 2px; }
@media (max-width: 480px) {
  .gradio-container { padding: .5rem !important; }
  #header h1 { font-size: 1.25rem; }
  #examples button { flex-basis: 100%; }
}
"""

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


def launch_options(ui: UISettings, **overrides: Any) -> dict[str, Any]:
    """Keyword arguments of `gr.Blocks.launch` (Gradio 6 takes the theme and CSS there)."""
    options: dict[str, Any] = {
        "server_name": ui.host,
        "server_port": ui.port,
        "theme": _theme(),
        "css": CSS,
        "js": _JS,
        "footer_links": ["api"],
        "show_error": False,  # an unexpected error shows our message, not the exception text
        "share": False,
    }
    return options | overrides


def build_app(assistant: Assistant, ui: UISettings, store: FeedbackStore | None = None) -> gr.Blocks:
    """Builds the Gradio app (chat at `/`, adviser view at `/conseiller`, API `/ask` and `/chat`).

    Returns:
        A `gr.Blocks`; launch it with `app.launch(**launch_options(ui))`.
    """
    store = store or FeedbackStore(ui.feedback_db, ui.db_busy_timeout_ms, ui.max_interactions)
    handlers = ChatHandlers(assistant, ui, store)
    private: dict[str, Any] = {"api_visibility": "private"}
    asking: dict[str, Any] = {"concurrency_id": "ask", "concurrency_limit": ui.concurrency_limit}

    # delete_cache: Gradio's copies of the CSV exports are removed after an hour.
    with gr.Blocks(title=f"Assistant — {TITLE}", analytics_enabled=False, delete_cache=(3600, 3600)) as app:
        gr.HTML(f"<h1>{html.escape(TITLE)}</h1><p>{html.escape(SCOPE)}</p>", elem_id="header", js_on_load=None)
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
        status = gr.HTML(_status(""), elem_id="feedback-status", js_on_load=None)
        with gr.Group(visible=False, elem_id="comment-box") as comment_box:
            comment = gr.Textbox(
                label="Votre commentaire sur cette réponse (facultatif)",
                lines=2,
                max_length=ui.max_comment_chars,
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
                handlers.respond, inputs=[button, conversation], outputs=[chatbot, question, conversation],
                **private, **asking,
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
        _adviser_page(handlers, ui)

    app.queue(default_concurrency_limit=ui.concurrency_limit, max_size=ui.max_queue_size)
    return app


def _adviser_page(handlers: ChatHandlers, ui: UISettings) -> None:
    """The adviser view; without a configured password it only says it is disabled."""
    gr.HTML("<h1>Vue conseiller</h1>", elem_id="adviser-header", js_on_load=None)
    if not ui.adviser_password.get_secret_value():
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


def serve(settings: Settings, ui: UISettings) -> int:
    """Loads the assistant (building the index first if there is none), then serves the app until
    interrupted. Returns the process exit code."""
    from assistant.cli import run_ingest
    from assistant.embeddings import load_embeddings

    try:
        embeddings = load_embeddings(settings)  # loaded once, kept for the life of the process
        try:
            assistant = Assistant.from_settings(settings, embeddings)
        except IndexMissingError:
            print("Aucun index : construction à partir du corpus…", file=sys.stderr)
            run_ingest(settings, rebuild=False, as_json=False, out=sys.stderr)
            assistant = Assistant.from_settings(settings, embeddings)
        app = build_app(assistant, ui)
    except AssistantError as err:
        print(f"Erreur : {err}", file=sys.stderr)
        return 1
    app.launch(**launch_options(ui))
    return 0
