"""The chat's handlers without a browser, then the served app through `gradio_client`.

Everything runs on the real assistant (real e5 model, real Chroma index of the real corpus).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from html import escape as html_escape
from pathlib import Path
from typing import Any

import pytest

from assistant.answer.types import Citation
from assistant.app.feedback import FeedbackStore
from assistant.app.handlers import ChatHandlers, Conversation
from assistant.app.render import render_question, render_sources
from assistant.config import PROJECT_DIR, Settings
from assistant.core import Assistant

from .conftest import CORPUS, DOCUMENT, EXAMPLES, app_settings, free_port, served_app

PASSWORD = "mot-de-passe-conseiller"


def ui_settings(base: Settings, tmp: Path, password: str = PASSWORD) -> Settings:
    return app_settings(base, tmp, password)


@pytest.fixture
def handlers(assistant: Assistant, index_settings: Settings, tmp_path: Path) -> ChatHandlers:
    settings = ui_settings(index_settings, tmp_path)
    return ChatHandlers(assistant, settings, FeedbackStore(settings.feedback_db))


def run(handlers: ChatHandlers, question: str, conversation: Conversation) -> list[tuple[Any, ...]]:
    return list(handlers.respond(question, conversation))


def last_message(step: tuple[Any, ...]) -> str:
    return str(step[0][-1]["content"])


# ---------------------------------------------------------------- handlers


def test_answer_streams_then_shows_its_sources(handlers: ChatHandlers) -> None:
    conversation = Conversation()
    steps = run(handlers, "Combien d'heures de stage long ?", conversation)

    first, *streaming, final = steps
    assert [m["role"] for m in first[0]] == ["user", "assistant"]
    assert "Je cherche dans les documents" in last_message(first)
    assert first[1] == ""  # the input box is emptied at once
    lengths = [len(last_message(s)) for s in streaming]
    assert len(streaming) >= 2 and lengths == sorted(lengths) and len(set(lengths)) == len(lengths)
    assert all('class="answer streaming"' in last_message(s) for s in streaming)
    html = last_message(final)
    assert "980 heures de stage long" in html
    # The [1] marker links to source 1, which shows the document, the section and the quote highlighted.
    title = "Moniteur d'atelier en milieu de travail protégé — Titre à finalité professionnelle (RNCP39099)"
    name = html_escape(f"Source 1 : {title}", quote=True)
    assert f'<a class="cite" href="#source-0-1"><span class="visually-hidden">{name} </span>[1]</a>' in html
    assert '<li id="source-0-1" class="source" tabindex="-1">' in html
    assert html_escape(title, quote=True) in html and "La formation" in html
    assert "<mark>980 heures de stage long</mark>" in html
    assert "streaming" not in html
    assert conversation.history() == [
        {"role": "user", "content": "Combien d'heures de stage long ?"},
        {
            "role": "assistant",
            "content": "D'après les documents :\n- « 980 heures de stage long » [1]\n- « 105 heures de stage court » [1]",
        },
    ]


def test_followup_uses_the_conversation(handlers: ChatHandlers) -> None:
    conversation = Conversation()
    run(handlers, "Combien d'heures de stage long ?", conversation)
    final = run(handlers, "Et le stage court ?", conversation)[-1]

    assert "105 heures de stage court" in last_message(final)
    assert 'href="#source-1-1"' in last_message(final)  # ids stay unique across answers
    assert [m["role"] for m in final[0]] == ["user", "assistant", "user", "assistant"]


def test_sources_list_only_the_cited_passages(handlers: ChatHandlers) -> None:
    answer = handlers.assistant.ask("Quels sont les blocs de compétences ?")
    conversation = Conversation()
    html = last_message(run(handlers, "Quels sont les blocs de compétences ?", conversation)[-1])

    assert html.count('class="source"') == len(answer.citations) >= 1
    for citation in answer.citations:
        assert f'id="source-0-{citation.n}"' in html


def test_question_markup_is_shown_as_text(handlers: ChatHandlers) -> None:
    payload = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=1</script>'
    steps = run(handlers, payload, Conversation())

    user = str(steps[-1][0][0]["content"])
    assert user == render_question(payload)
    assert "<img" not in user and "<script" not in user
    assert "&lt;img src=x onerror=&quot;window.__pwned=1&quot;&gt;&lt;script&gt;" in user
    assert "<script" not in last_message(steps[-1]) and "<img" not in last_message(steps[-1])


def test_passage_markup_is_escaped_and_quotes_highlighted() -> None:
    citation = Citation(
        n=1,
        source="<b>doc</b>.txt",
        title="<b>Le</b> document",
        section='Sect"ion <i>x</i>',
        text="Avant.\n\n<script>alert(1)</script> La phrase citée & <b>gras</b>.\n\nAprès.",
        score=0.5,
        rank=1,
        chunk_id="c1",
        quotes=["<script>alert(1)</script> La phrase citée & <b>gras</b>."],
    )
    html = render_sources([citation], turn=0, language="fr")

    assert "<script" not in html and "<b>" not in html and "<i>" not in html
    assert "&lt;b&gt;Le&lt;/b&gt; document" in html and "Sect&quot;ion &lt;i&gt;x&lt;/i&gt;" in html
    assert "<mark>&lt;script&gt;alert(1)&lt;/script&gt; La phrase citée &amp; &lt;b&gt;gras&lt;/b&gt;.</mark>" in html
    # The paragraph of the quote is shown; the whole passage is one click away.
    assert "<details><summary>Voir tout le passage</summary>" in html and "Avant." in html
    assert "\n" not in html  # a blank line would end the Chatbot's HTML block


def test_over_long_question_is_refused_with_its_limit(handlers: ChatHandlers) -> None:
    conversation = Conversation()
    question = "Combien d'heures de stage long ? " + "x" * 2000
    steps = run(handlers, question, conversation)

    assert len(steps) == 1
    messages, left, _ = steps[0]
    assert [m["role"] for m in messages] == ["assistant"]
    text = str(messages[0]["content"])
    expected = (
        "Votre message compte 2\u202f033 caractères : la limite est de 2\u202f000. Raccourcissez-le, puis renvoyez-le."
    )
    assert len(question) == 2033 and expected in text
    assert text.startswith('<div class="notice error" lang="fr"><strong>Erreur :</strong>')
    assert left == question  # kept, to be shortened rather than retyped
    assert conversation.history() == []
    assert handlers.ask_api(question) == {"error": expected}
    assert handlers.store.recent_interactions() == []


def test_empty_question_gets_a_message(handlers: ChatHandlers) -> None:
    steps = run(handlers, "   ", Conversation())

    assert len(steps) == 1
    assert "La question est vide : écrivez votre question sur le titre." in last_message(steps[0])
    assert handlers.ask_api("") == {"error": "La question est vide : écrivez votre question sur le titre."}


def test_abstention_reads_as_an_answer_not_an_error(handlers: ChatHandlers) -> None:
    html = last_message(run(handlers, "Quel est le salaire d'un moniteur d'atelier ?", Conversation())[-1])

    assert html.startswith('<div class="answer abstained" lang="fr">')
    assert "Erreur" not in html and "notice" not in html and "Sources" not in html


def test_new_conversation_clears(handlers: ChatHandlers) -> None:
    conversation = Conversation()
    run(handlers, "Combien d'heures de stage long ?", conversation)

    messages, text, fresh, _, comment_shown = handlers.new_conversation()

    assert (messages, text, fresh.turns, fresh.history(), comment_shown) == ([], "", [], [], False)
    steps = run(handlers, "Et le stage court ?", fresh)
    assert [m["role"] for m in steps[-1][0]] == ["user", "assistant"]


def test_votes_and_comment_are_stored(handlers: ChatHandlers) -> None:
    conversation = Conversation()
    run(handlers, "Combien d'heures de stage long ?", conversation)

    status, offer, conversation = handlers.vote(conversation, 1, True)
    assert offer and "Merci" in status
    status, offer, conversation = handlers.vote(conversation, 1, False)  # changed: still one vote
    status, _, _ = handlers.comment("Je voulais le stage", conversation)
    assert "commentaire est enregistré" in status

    (stored,) = handlers.store.recent()
    assert (stored.rating, stored.comment, stored.question) == (
        -1,
        "Je voulais le stage",
        "Combien d'heures de stage long ?",
    )
    assert stored.answer.startswith("D'après les documents") and stored.citations[0]["n"] == 1
    (logged,) = handlers.store.recent_interactions()
    assert stored.interaction_id == logged.id

    handlers.vote(conversation, 1, "")  # the same button again: the vote is withdrawn
    assert handlers.store.recent() == []
    status, offer, _ = handlers.vote(conversation, 0, True)  # the user's own message
    assert not offer and "rien à évaluer" in status


def test_adviser_view_needs_the_password(handlers: ChatHandlers) -> None:
    run(handlers, "Combien d'heures de stage long ?", Conversation())

    for given in (None, "", "mauvais", PASSWORD + " "):
        assert "Accès refusé" in handlers.adviser_view(given)
        assert handlers.adviser_export(given)[1] is None
    page = handlers.adviser_view(PASSWORD)
    assert "Combien d&#x27;heures de stage long ?" in page
    assert "rang 1" in page and "dense 0." in page and "BM25 " in page
    status, path = handlers.adviser_export(PASSWORD)
    assert path is not None and Path(path).read_text(encoding="utf-8-sig").startswith("id,created_at,rating")


def test_adviser_view_is_disabled_without_a_password(
    assistant: Assistant, index_settings: Settings, tmp_path: Path
) -> None:
    settings = ui_settings(index_settings, tmp_path, password="")
    handlers = ChatHandlers(assistant, settings, FeedbackStore(settings.feedback_db))

    assert "Accès refusé" in handlers.adviser_view("")
    assert handlers.adviser_export("")[1] is None


def test_settings_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings()
    assert (settings.host, settings.port, settings.data_dir, settings.concurrency_limit) == (
        "127.0.0.1",
        7860,
        PROJECT_DIR / ".data",
        32,
    )
    assert settings.adviser_password.get_secret_value() == "" and "mot" not in repr(Settings(adviser_password="mot"))
    monkeypatch.setenv("ASSISTANT_ADVISER_PASSWORD", "s3cret")
    monkeypatch.setenv("ASSISTANT_PORT", "8080")
    assert Settings().adviser_password.get_secret_value() == "s3cret" and Settings().port == 8080


# ---------------------------------------------------------------- the served app


@pytest.fixture(scope="module")
def served(assistant: Assistant, index_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    settings = ui_settings(index_settings, tmp_path_factory.mktemp("served"))
    with served_app(assistant, settings) as url:
        yield url


def client(url: str) -> Any:
    from gradio_client import Client

    return Client(url, verbose=False, download_files=False)


def test_api_ask_returns_the_answer_json(served: str) -> None:
    reply = client(served).predict("Combien d'heures de stage long ?", [], api_name="/ask")

    assert "980" in reply["answer"] and reply["abstained"] is False and reply["reason"] == "answered"
    assert reply["citations"][0]["n"] == 1 and reply["citations"][0]["source"] == "titre-moniteur-atelier-rncp39099.txt"
    assert set(reply) == {
        "answer",
        "abstained",
        "citations",
        "latency_ms",
        "timings_ms",
        "reason",
        "language",
        "followup",
        "mode",
        "fallback",
        "dropped",
    }
    assert (reply["mode"], reply["fallback"], reply["dropped"]) == ("extractive", "", [])


def test_api_ask_uses_the_history_and_reports_errors(served: str) -> None:
    api = client(served)
    history = [
        {"role": "user", "content": "Combien d'heures de stage long ?"},
        {"role": "assistant", "content": [{"type": "text", "text": "« 980 heures de formation » [1]"}]},
    ]
    assert "105" in api.predict("Et le stage court ?", history, api_name="/ask")["answer"]
    assert api.predict("", None, api_name="/ask") == {
        "error": "La question est vide : écrivez votre question sur le titre."
    }
    assert api.predict("x" * 2001, [], api_name="/ask")["error"].startswith(
        "Votre message compte 2\u202f001 caractères"
    )


def test_only_chat_and_ask_are_public(served: str) -> None:
    endpoints = client(served).view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert sorted(endpoints) == ["/ask", "/chat"]


def test_two_clients_keep_separate_histories(served: str) -> None:
    alice, bob = client(served), client(served)

    alice.predict("Combien d'heures de stage long ?", api_name="/chat")
    bob.predict("Où travaille le moniteur d'atelier ?", api_name="/chat")
    alice_chat, _ = alice.predict("Et le stage court ?", api_name="/chat")
    bob_chat, _ = bob.predict(EXAMPLES[2], api_name="/chat")

    def texts(chat: list[dict[str, Any]]) -> str:
        return " ".join(str(block.get("text", "")) for m in chat for block in m["content"])

    assert len(alice_chat) == len(bob_chat) == 4
    assert "105 heures de stage court" in texts(alice_chat) and "exerce principalement" not in texts(alice_chat)
    assert "exerce principalement" in texts(bob_chat) and "980" not in texts(bob_chat)


def test_concurrent_users_all_get_their_own_answer(served: str) -> None:
    """Eight users at once through the queue (four answered at a time): each gets the right answer."""
    questions = {
        "Combien d'heures de stage long ?": "980",
        "Combien d'heures dure le stage long ?": "980",
        "Combien de personnes dans un groupe ?": "16 personnes",
        "Quels sont les blocs de compétences ?": "Bloc 2",
    }
    asked = list(questions) * 2

    with ThreadPoolExecutor(max_workers=len(asked)) as pool:
        replies = list(pool.map(lambda q: client(served).predict(q, [], api_name="/ask"), asked))

    for question, reply in zip(asked, replies, strict=True):
        assert questions[question] in reply["answer"], (question, reply)


@pytest.mark.slow
def test_app_py_builds_a_missing_index_then_serves(tmp_path: Path) -> None:
    """`python app.py` on an empty index folder: it ingests the corpus (the flyer alone, a minute
    sooner than the whole of corpus/, which `make check` builds in CI), then answers on its port."""
    port = free_port()
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in (DOCUMENT.name, "SOURCES.md"):
        shutil.copy(CORPUS / name, corpus / name)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")} | {
        "HF_HUB_OFFLINE": "1",
        "ASSISTANT_INDEX_DIR": str(tmp_path / "index"),
        "ASSISTANT_CORPUS_DIR": str(corpus),
        "ASSISTANT_DATA_DIR": str(tmp_path / "data"),
        "ASSISTANT_PORT": str(port),
        "GRADIO_ANALYTICS_ENABLED": "False",
    }
    process = subprocess.Popen(
        [sys.executable, str(PROJECT_DIR / "app.py")],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/config", timeout=2) as response:
                    assert response.status == 200
                    break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail(f"app.py did not serve on port {port} (exit code {process.poll()})")
        assert (tmp_path / "index").is_dir() and (tmp_path / "data" / "feedback.sqlite3").is_file()
    finally:
        process.terminate()
        output = process.communicate(timeout=30)[0]
    assert "Aucun index : construction à partir du corpus…" in output
    assert "Index prêt : " in output and f"127.0.0.1:{port}" in output
