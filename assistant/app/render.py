"""The chat's HTML: questions, streamed and final answers with their sources, notices, the adviser cards.

Security: every text that comes from the question, the answer or a corpus passage is HTML-escaped
before it is put in HTML (a passage may hold markup); the Chatbot's own sanitiser is only a second
line of defence. No rendered string holds a newline: a blank line would end the Chatbot's HTML
block and let its Markdown parser read the rest.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

from assistant.answer.compose import Citation
from assistant.app.feedback import Interaction

_TEXTS: dict[str, dict[str, str]] = {
    "too_long": {
        "fr": "Votre message compte {length} caractères : la limite est de {limit}. "
        "Raccourcissez-le, puis renvoyez-le.",
        "en": "Your message has {length} characters: the limit is {limit}. Please shorten it and send it again.",
    },
    "searching": {"fr": "Je cherche dans les documents…", "en": "Searching the documents…"},
    "draft": {
        "fr": "Brouillon du modèle, en cours de vérification :",
        "en": "The model's draft, being checked:",
    },
    "sources": {"fr": "Sources", "en": "Sources"},
    "source": {"fr": "Source", "en": "Source"},
    "error": {"fr": "Erreur", "en": "Error"},
    "whole_passage": {"fr": "Voir tout le passage", "en": "Show the whole passage"},
}
# Words beside the emoji: they stay readable where no emoji font is installed.
RATING_LABELS = {1: "👍 utile", -1: "👎 pas utile"}
_MARKER = re.compile(r"\[(\d+)\](?=[\s.,;:!?)»\[]|$)")
_QUOTE = re.compile(r"«[^«»]*»")
_BOLD = re.compile(r"\*\*([^*<>\n]+?)\*\*")  # the corpus marks a few words **like this**


def ui_text(key: str, language: str, **values: object) -> str:
    """A text of the chat in the user's language ('en', else French), with its {values} filled in."""
    text = _TEXTS[key]["en" if language == "en" else "fr"]
    return text.format(**values) if values else text


def format_number(value: int) -> str:
    """2000 -> « 2 000 » (French thousands separator, a narrow no-break space)."""
    return f"{value:,}".replace(",", "\u202f")


def _inline(text: str) -> str:
    """Escaped text with line breaks kept, on one line."""
    escaped = html.escape(text, quote=True)
    escaped = _BOLD.sub(r"<strong>\1</strong>", escaped)
    escaped = re.sub(r"\n\s*\n\s*", "<br><br>", escaped.strip())
    return escaped.replace("\n", "<br>")


def strip_tags(markup: str) -> str:
    """The text of an HTML fragment, tags removed and entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", " ", markup)).strip()


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


def render_draft(text: str, language: str) -> str:
    """A language model's text as it comes, marked as not yet checked (the checked answer replaces it)."""
    label = html.escape(ui_text("draft", language))
    return (
        f'<div class="answer streaming draft" lang="{language}"><p class="draft-label">{label}</p>{_inline(text)}</div>'
    )


def render_answer(answer_text: str, citations: Sequence[Citation], turn: int, language: str, reason: str) -> str:
    """The full answer: its text, each `[n]` a link to source n, then the numbered sources.

    Only the citations of the answer (retrieved passages) are listed.
    """
    titles = {c.n: c.title for c in citations}

    def link(match: re.Match[str]) -> str:
        n = int(match.group(1))
        if n not in titles:
            return match.group(0)
        # The Chatbot's sanitiser drops aria-* and role attributes: hidden words name the link by
        # the source it leads to (« Source 1 : La validation des acquis de l'expérience »).
        name = html.escape(f"{ui_text('source', language)} {n} : {titles[n]}", quote=True)
        return f'<a class="cite" href="#{source_id(turn, n)}"><span class="visually-hidden">{name} </span>[{n}]</a>'

    blocks: list[str] = []
    items: list[str] = []
    for line in answer_text.split("\n"):
        body = _MARKER.sub(link, _inline(line.strip()))
        if language != "fr":  # the quotes stay French: a screen reader switches voice for them
            body = _QUOTE.sub(lambda m: f'<span lang="fr">{m.group(0)}</span>', body)
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
        f'<div class="answer {kind}" lang="{language}">'
        + "".join(blocks)
        + render_sources(citations, turn, language)
        + "</div>"
    )


def render_sources(citations: Sequence[Citation], turn: int, language: str) -> str:
    """The numbered sources of an answer: document, section, passage with its quotes highlighted."""
    if not citations:
        return ""
    title = ui_text("sources", language)
    items = []
    for c in citations:
        page = f", p. {int(c.page)}" if c.page else ""
        shown, whole = excerpt(c.text, c.quotes)
        rest = (
            ""
            if whole
            else (
                f"<details><summary>{ui_text('whole_passage', language)}</summary>"
                f'<blockquote class="passage" lang="fr">{highlight(c.text, c.quotes)}</blockquote></details>'
            )
        )
        items.append(
            f'<li id="{source_id(turn, c.n)}" class="source" tabindex="-1">'
            f'<p class="source-head"><span class="source-n">[{c.n}]</span> '
            f'<span class="source-doc">{html.escape(c.title)}{page}</span>'
            f'<span class="source-section"> — {html.escape(c.section)}</span></p>'
            f'<blockquote class="passage" lang="fr">{shown}</blockquote>{rest}</li>'
        )
    return f'<section class="sources"><h2 class="sources-title">{title}</h2><ol>{"".join(items)}</ol></section>'


def render_notice(text: str, language: str) -> str:
    """An error, shown as a readable message (never a stack trace)."""
    return (
        f'<div class="notice error" lang="{language}"><strong>{ui_text("error", language)} :</strong> '
        f"{_inline(text)}</div>"
    )


def render_status(text: str) -> str:
    """A one-line status under the chat (vote recorded, comment sent…), announced to screen readers."""
    return f'<p class="status" role="status">{html.escape(text)}</p>'


def render_refusal() -> str:
    """The adviser view's answer to a missing or wrong password."""
    return '<p class="notice error" role="alert">Accès refusé : mot de passe conseiller absent ou incorrect.</p>'


def _reader_scores(citation: dict[str, object]) -> str:
    """« · lecteur 0.912, 0.874 »: the reader's score of each quote of a citation, when it decided."""
    scores = citation.get("reader_scores")
    if not isinstance(scores, list) or not scores:
        return ""
    # None: a quote that finishes a list, which the reader did not score.
    return " · lecteur " + ", ".join("—" if v is None else html.escape(f"{float(v):.3f}") for v in scores)


def render_interactions(interactions: Sequence[Interaction]) -> str:
    """The adviser view: recent questions, answers, citations with scores and ranks, feedback."""
    if not interactions:
        return '<p class="adviser-empty">Aucune question n\'a encore été posée.</p>'
    up = sum(f.rating == 1 for i in interactions for f in i.feedback)
    down = sum(f.rating == -1 for i in interactions for f in i.feedback)
    cards = [
        f'<p class="adviser-summary">{len(interactions)} question(s) récente(s) — {up} × {RATING_LABELS[1]}, '
        f"{down} × {RATING_LABELS[-1]}</p>"
    ]
    for item in interactions:
        citations = "".join(
            f"<li>[{html.escape(str(c.get('n')))}] {html.escape(str(c.get('title') or c.get('source')))} — "
            f'{html.escape(str(c.get("section")))}<br><span class="scores">rang {html.escape(str(c.get("rank")))}'
            f" · score {html.escape(str(c.get('score')))} · dense {html.escape(str(c.get('dense_score')))}"
            f" · BM25 {html.escape(str(c.get('bm25_score')))}{_reader_scores(c)}</span></li>"
            for c in item.citations
        )
        votes = "".join(
            f"<li>{RATING_LABELS[f.rating]} · {html.escape(f.created_at)}"
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
            + (
                f'<p><strong>Avis :</strong></p><ul class="votes">{votes}</ul>'
                if votes
                else '<p class="novote">Aucun avis.</p>'
            )
            + "</article>"
        )
    return "".join(cards)
