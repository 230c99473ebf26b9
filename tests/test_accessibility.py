"""Accessibility, tested in the browser: axe-core (WCAG 2.0, 2.1 and 2.2, levels A and AA) on every
state a candidate or an adviser meets, and the whole flow with the keyboard alone.

A test fails on any serious or critical violation and prints each rule with the elements it found.
axe-core comes bundled in the axe-playwright-python package (no download).
"""

from __future__ import annotations

from typing import Any

import pytest

from .browser import ANSWER_TIMEOUT_MS, FINISHED, PASSWORD, ask, shoot
from .conftest import Server

pytestmark = pytest.mark.browser

WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]
BLOCKING = ("serious", "critical")


def audit(page: Any) -> list[str]:
    """The serious and critical WCAG A/AA violations on the page, one line per rule and element."""
    from axe_playwright_python.sync_playwright import Axe

    options = {"runOnly": {"type": "tag", "values": WCAG_TAGS}, "resultTypes": ["violations"]}
    found = Axe().run(page, options=options).response["violations"]
    return [
        f"{v['id']} ({v['impact']}): {node['target'][0] if node['target'] else '?'} — "
        f"{' '.join(node.get('failureSummary', v['help']).split())}"
        for v in found
        if v.get("impact") in BLOCKING
        for node in v["nodes"][:5]
    ]


def answered(page: Any, question: str) -> Any:
    reply = ask(page, question)
    page.wait_for_timeout(300)  # the last streaming step is replaced by the answer with its sources
    return reply


def test_the_empty_chat(page: Any) -> None:
    assert audit(page) == []


def test_an_answer_with_its_sources_opened(page: Any) -> None:
    reply = answered(page, "Combien d'heures de stage long ?")
    for summary in reply.locator("summary").all():
        summary.click()
    assert audit(page) == []


def test_an_abstention(page: Any) -> None:
    reply = answered(page, "Quel est le salaire d'un moniteur d'atelier en ESAT à Lyon ?")
    assert "abstained" in (reply.get_attribute("class") or "")
    assert audit(page) == []


def test_the_adviser_login_and_list(page: Any, server: Server) -> None:
    answered(page, "Peut-on obtenir le titre par la VAE ?")
    page.goto(server.url + "conseiller")
    page.get_by_label("Mot de passe conseiller").wait_for()
    assert audit(page) == []
    page.get_by_label("Mot de passe conseiller").fill(PASSWORD)
    page.get_by_role("button", name="Afficher les questions récentes").click()
    page.locator("#adviser-view .interaction").first.wait_for()
    assert audit(page) == []


@pytest.mark.parametrize(
    ("viewport", "scale", "name"),
    [({"width": 375, "height": 812}, 2, "mobile-375"), ({"width": 640, "height": 450}, 2, "zoom-200")],
)
def test_small_screens_and_zoom(
    browser: Any, server: Server, screenshots: Any, viewport: dict[str, int], scale: int, name: str
) -> None:
    """375 px wide (a phone), and 640 × 450 CSS pixels: a 1280 × 900 window zoomed to 200 %."""
    context = browser.new_context(locale="fr-FR", viewport=viewport, device_scale_factor=scale)
    page = context.new_page()
    page.set_default_timeout(ANSWER_TIMEOUT_MS)
    try:
        page.goto(server.url)
        answered(page, "Quels sont les blocs de compétences ?")
        shoot(page, screenshots, f"{name}-answer.png")
        widths = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
        assert widths[0] <= widths[1], f"scrolls sideways at {viewport['width']} px: {widths}"
        assert audit(page) == []
        page.goto(server.url + "conseiller")
        page.get_by_label("Mot de passe conseiller").fill(PASSWORD)
        page.get_by_role("button", name="Afficher les questions récentes").click()
        page.locator("#adviser-view .interaction").first.wait_for()
        shoot(page, screenshots, f"{name}-adviser.png")
        assert audit(page) == []
    finally:
        context.close()


FOCUS = """() => {
    const e = document.activeElement;
    if (!e || e === document.body) return null;
    const s = getComputedStyle(e);
    const ring = (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0) || s.boxShadow !== 'none';
    const label = (e.getAttribute('aria-label') || e.innerText || e.value || e.labels?.[0]?.innerText || '').trim();
    return {label: label.slice(0, 80), tag: e.tagName, visible: ring};
}"""


def tab_to(page: Any, matches: Any, limit: int = 80, backwards: bool = False) -> dict[str, Any]:
    """Presses Tab until the focused element satisfies `matches`; its focus must be visible."""
    for _ in range(limit):
        page.keyboard.press("Shift+Tab" if backwards else "Tab")
        focused = page.evaluate(FOCUS)
        if focused and matches(focused):
            assert focused["visible"], f"no visible focus on {focused}"
            return dict(focused)
    raise AssertionError("not reached with the keyboard")


def test_the_whole_flow_with_the_keyboard_alone(page: Any, server: Server) -> None:
    # Ask.
    tab_to(page, lambda f: f["tag"] == "TEXTAREA")
    page.keyboard.type("Combien d'heures de stage long ?")
    page.keyboard.press("Enter")
    page.wait_for_function(f"document.querySelectorAll({FINISHED!r}).length > 0")
    page.wait_for_timeout(300)
    answer = page.locator(FINISHED).last
    assert "heures" in answer.inner_text()
    # Read the answer: its markers name the source they lead to, and lead there.
    focused = tab_to(page, lambda f: f["label"].startswith("Source 1 :"))
    assert focused["label"].startswith("Source 1 : Moniteur d'atelier"), focused
    page.keyboard.press("Enter")
    assert page.evaluate("location.hash").startswith("#source-")
    # Open a source passage.
    tab_to(page, lambda f: f["tag"] == "SUMMARY")
    page.keyboard.press("Enter")
    assert answer.locator("details[open]").count() >= 1
    # Vote, then comment.
    tab_to(page, lambda f: "aime pas" in f["label"] or f["label"] == "Dislike")
    page.keyboard.press("Enter")
    page.get_by_label("Votre commentaire sur cette réponse (facultatif)").wait_for()
    tab_to(page, lambda f: f["tag"] == "TEXTAREA" and f["label"].startswith("Votre commentaire"), backwards=True)
    page.keyboard.type("Il manque la durée du stage.")
    tab_to(page, lambda f: f["label"] == "Envoyer le commentaire")
    page.keyboard.press("Enter")
    page.get_by_text("Merci, votre commentaire est enregistré.").wait_for()
    # Start a new conversation.
    tab_to(page, lambda f: f["label"] == "Nouvelle conversation")
    page.keyboard.press("Enter")
    page.wait_for_function(f"document.querySelectorAll({FINISHED!r}).length === 0")
    # The adviser's login, with the keyboard too.
    page.goto(server.url + "conseiller")
    page.get_by_label("Mot de passe conseiller").wait_for()
    tab_to(page, lambda f: f["tag"] == "INPUT")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.locator("#adviser-view .interaction").first.wait_for()
    assert "Il manque la durée du stage." in page.locator("#adviser-view").inner_text()


def test_an_english_answer_is_marked_english_and_its_quotes_french(page: Any) -> None:
    reply = answered(page, "How many hours is the training?")
    assert reply.get_attribute("lang") == "en"
    quotes = reply.locator("span[lang=fr]")
    assert quotes.count() >= 1 and quotes.first.inner_text().startswith("«")
