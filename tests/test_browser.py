"""The chat in a real browser: Playwright driving Debian's chromium against the app on a loopback port
(`tests/browser.py`)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from assistant.config import Settings
from assistant.core import Assistant

from .browser import ANSWER_TIMEOUT_MS, FINISHED, PASSWORD, ask, shoot
from .conftest import EXAMPLES, Server, free_port, served_app

pytestmark = pytest.mark.browser


# The flyer's title, from corpus/SOURCES.md: sources and markers are named by it.
TITLE = "Moniteur d'atelier en milieu de travail protégé — Titre à finalité professionnelle (RNCP39099)"


def test_answer_shows_its_sources_and_markers_lead_to_them(screenshots: Path, page: Any) -> None:
    shoot(page, screenshots, "chat.png")
    assert (
        page.get_by_role("heading", level=1).inner_text()
        == "Moniteur d'atelier en milieu de travail protégé (RNCP39099)"
    )
    assert page.evaluate("document.documentElement.lang") == "fr"

    reply = ask(page, "Combien d'heures de stage long ?")

    assert "980 heures de stage long" in reply.inner_text()
    source = reply.locator("li.source").first
    assert source.locator(".source-head").inner_text() == f"[1] {TITLE} — La formation"
    assert source.locator("mark").first.inner_text() == "980 heures de stage long"
    reply.get_by_role("link", name=f"Source 1 : {TITLE} [1]").first.click()
    assert page.evaluate("location.hash") == "#source-0-1"
    assert page.evaluate("document.querySelector('#source-0-1').matches(':target')")
    reply.locator("summary").first.click()  # the whole passage, one click away
    assert "980 heures de stage long" in source.locator("details").inner_text()
    page.locator("#chat .bubble-wrap").evaluate("e => { e.scrollTop = 0; }")
    shoot(page, screenshots, "answer-sources.png", full_page=False)


def test_example_then_followup(page: Any) -> None:
    done = page.locator(FINISHED).count()
    page.get_by_role("button", name=EXAMPLES[2]).click()
    page.wait_for_function(f"document.querySelectorAll({FINISHED!r}).length > {done}")
    assert "Bloc 2" in page.locator(FINISHED).last.inner_text()

    ask(page, "Combien d'heures de stage long ?")
    reply = ask(page, "Et le stage court ?")

    assert "105 heures de stage court" in reply.inner_text()
    page.get_by_role("button", name="Nouvelle conversation").click()
    page.wait_for_function(f"document.querySelectorAll({FINISHED!r}).length == 0")


def test_dislike_with_a_comment_lands_in_sqlite(screenshots: Path, page: Any, server: Server) -> None:
    ask(page, "Combien de personnes dans un groupe ?")

    page.locator("#chat").get_by_role("button", name="Je n'aime pas").last.click()
    page.get_by_text("Merci pour votre avis (👎 pas utile).").wait_for()
    page.get_by_label("Votre commentaire sur cette réponse (facultatif)").fill("Je cherchais le niveau européen")
    shoot(page, screenshots, "feedback.png", full_page=False)
    page.get_by_role("button", name="Envoyer le commentaire").click()
    page.get_by_text("Merci, votre commentaire est enregistré.").wait_for()

    with sqlite3.connect(server.database) as conn:
        rows = conn.execute(
            "SELECT rating, comment, citations FROM feedback WHERE question = ?",
            ("Combien de personnes dans un groupe ?",),
        ).fetchall()
    assert len(rows) == 1
    rating, comment, citations = rows[0]
    assert (rating, comment) == (-1, "Je cherchais le niveau européen") and '"n": 1' in citations


def test_markup_in_a_question_is_shown_as_text(page: Any) -> None:
    payload = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=1</script>'

    ask(page, payload)

    assert page.locator("#chat .question").last.inner_text() == payload
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.locator("#chat img[src='x'], #chat script").count() == 0


def test_adviser_view_needs_the_password(screenshots: Path, page: Any, server: Server) -> None:
    ask(page, "Quelles sont les voies d'accès à la certification ?")
    page.goto(server.url + "conseiller")
    show = page.get_by_role("button", name="Afficher les questions récentes")

    show.click()
    page.get_by_text("Accès refusé").wait_for()
    page.get_by_label("Mot de passe conseiller").fill("pas le bon")
    show.click()
    page.get_by_text("Accès refusé").wait_for()
    assert "voies d'accès" not in page.locator("#adviser-view").inner_text()

    page.get_by_label("Mot de passe conseiller").fill(PASSWORD)
    show.click()
    page.locator("#adviser-view .interaction").first.wait_for()
    view = page.locator("#adviser-view").inner_text()
    assert "Quelles sont les voies d'accès à la certification ?" in view and "rang 1" in view
    page.get_by_role("button", name="Exporter les avis (CSV)").click()
    page.get_by_text("Export prêt").wait_for()
    shoot(page, screenshots, "adviser.png")


def test_narrow_screen_has_no_horizontal_scroll(screenshots: Path, browser: Any, server: Server) -> None:
    context = browser.new_context(locale="fr-FR", viewport={"width": 375, "height": 812}, device_scale_factor=2)
    page = context.new_page()
    page.set_default_timeout(ANSWER_TIMEOUT_MS)
    try:
        page.goto(server.url)
        ask(page, "Quels sont les blocs de compétences ?")
        shoot(page, screenshots, "mobile-375.png")
        widths = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
        assert widths[0] <= widths[1] == 375
        assert page.get_by_role("button", name="Envoyer", exact=True).bounding_box()["width"] > 40
    finally:
        context.close()


def test_keyboard_alone_reaches_every_control(page: Any) -> None:
    page.keyboard.press("Tab")
    for _ in range(30):  # to the question box, by keyboard
        if page.evaluate("document.activeElement.closest('#question') !== null"):
            break
        page.keyboard.press("Tab")
    page.keyboard.type("Combien d'heures de stage long ?")
    page.keyboard.press("Enter")
    page.wait_for_function(f"document.querySelectorAll({FINISHED!r}).length > 0")

    page.evaluate("document.activeElement.blur()")
    reached = []
    for _ in range(40):
        page.keyboard.press("Tab")
        reached.append(
            page.evaluate(
                "(() => { const e = document.activeElement;"
                " return (e.getAttribute('aria-label') || e.textContent || e.labels?.[0]?.textContent || '').trim(); })()"
            )
        )
    for name in (f"Source 1 : {TITLE} [1]", "Je n'aime pas", "J'aime", "Envoyer", "Nouvelle conversation", EXAMPLES[0]):
        assert name in reached, f"{name!r} cannot be reached with Tab: {reached}"

    while page.evaluate("document.activeElement.textContent") != f"Source 1 : {TITLE} [1]":
        page.keyboard.press("Shift+Tab")
    page.keyboard.press("Enter")
    assert page.evaluate("location.hash") == "#source-0-1"


def test_every_control_is_labelled(page: Any) -> None:
    ask(page, "Combien d'heures de stage long ?")

    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll('button, a[href], input, textarea, select, [tabindex]')]
            .filter(e => e.offsetParent !== null && e.tabIndex >= 0)
            .filter(e => !((e.getAttribute('aria-label') || e.getAttribute('title') || e.innerText
                           || [...(e.labels || [])].map(l => l.innerText).join('')).trim()))
            .map(e => e.outerHTML.slice(0, 120))"""
    )
    assert unlabelled == []


CONTRAST = """(selector) => {
    const el = document.querySelector(selector);
    const rgb = c => (c.match(/[\\d.]+/g) || []).map(Number);
    let node = el, bg = null;
    while (node && !bg) {
        const c = rgb(getComputedStyle(node).backgroundColor);
        if (c.length === 3 || (c.length === 4 && c[3] >= 0.9)) bg = c;
        node = node.parentElement;
    }
    bg = bg || [255, 255, 255];
    const lum = c => c.slice(0, 3).map(v => v / 255)
        .map(v => v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4))
        .reduce((s, v, i) => s + v * [0.2126, 0.7152, 0.0722][i], 0);
    const [a, b] = [lum(rgb(getComputedStyle(el).color)), lum(bg)];
    return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
}"""


def test_contrast_and_text_that_grows_with_the_browser_font_size(page: Any) -> None:
    ask(page, "Combien d'heures de stage long ?")

    for selector in (
        "#header p",
        "#send",
        "#chat a.cite",
        "#chat mark",
        "#chat .passage",
        "#chat summary",
        "#examples button",
        "#question textarea",
        "#chat .question",
    ):
        ratio = page.evaluate(CONTRAST, selector)
        assert ratio >= 4.5, f"{selector}: contrast {ratio:.2f} < 4.5"

    sizes = "['#chat .answer p', '#question textarea', '#send'].map(s => parseFloat(getComputedStyle(document.querySelector(s)).fontSize))"
    before = page.evaluate(sizes)
    page.evaluate("document.documentElement.style.fontSize = '32px'")  # a reader's larger default text
    page.wait_for_timeout(600)  # Gradio's buttons animate their font-size
    after = page.evaluate(sizes)
    assert all(a >= 1.8 * b for a, b in zip(after, before, strict=True)), (before, after)


def test_llm_mode_shows_the_draft_then_the_checked_answer(
    screenshots: Path, browser: Any, index_settings: Settings, embeddings: Any, tmp_path: Path
) -> None:
    """llm mode in the browser. A scripted model that writes slowly stands in for a real one: the
    test needs a draft with a sentence the checks drop, long enough on screen to be seen."""
    import time

    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage

    from assistant.search.store import ChunkStore

    class SlowModel(GenericFakeChatModel):
        def _stream(self, *args: Any, **kwargs: Any) -> Iterator[Any]:  # type: ignore[override]
            for chunk in super()._stream(*args, **kwargs):
                time.sleep(0.08)
                yield chunk

    model = SlowModel(messages=iter([AIMessage("Le stage long compte 980 heures [1]. Il coûte 3 000 euros [1].")]))
    settings = index_settings.model_copy(
        update={"answer_mode": "llm", "data_dir": tmp_path, "host": "127.0.0.1", "port": free_port()}
    )
    assistant = Assistant(settings, embeddings, ChunkStore.open(settings), chat_model=model)
    with served_app(assistant, settings) as url:
        context = browser.new_context(locale="fr-FR", viewport={"width": 1100, "height": 900})
        page = context.new_page()
        page.set_default_timeout(ANSWER_TIMEOUT_MS)
        page.goto(url)
        page.get_by_label("Votre question").fill("Combien d'heures de stage long ?")
        page.get_by_label("Votre question").press("Enter")
        draft = page.locator("#chat .answer.draft")
        draft.wait_for()
        assert "Brouillon du modèle, en cours de vérification" in draft.inner_text()
        page.wait_for_function("document.querySelector('#chat .answer.draft')?.innerText.includes('3 000')")
        shoot(page, screenshots, "llm-draft.png", full_page=False)
        reply = page.locator(FINISHED).last
        reply.wait_for()
        page.wait_for_function("!document.querySelector('#chat .answer.draft')")
        text = reply.inner_text()
        assert "Le stage long compte 980 heures" in text and "3 000" not in text and "Brouillon" not in text
        assert reply.locator("li.source").count() == 1
        assert reply.locator("mark").first.inner_text() == "980 heures de stage long"
        context.close()
