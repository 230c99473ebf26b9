"""The generic French analysis: what a question asks for, and what a sentence states."""

from __future__ import annotations

import pytest

from assistant.reading.analysis import asks_figure, has_figure


@pytest.mark.parametrize(
    "question",
    [
        "Il faut combien de membres au minimum ?",
        "la rqth c valable cb de temps ?",
        "Quelle est la durée de la formation ?",
        "Dans quel délai l'employeur répond-il ?",
        "Quel est le taux de réussite ?",
        "How long does the certifier have?",
        "When will it apply everywhere?",
    ],
)
def test_questions_that_ask_for_a_figure(question: str) -> None:
    assert asks_figure(question)


@pytest.mark.parametrize(
    "question",
    [
        "Qui est le certificateur ?",
        "Quelle est l'adresse de la MDPH ?",
        "Can I do it on my own?",
        "C'est quoi la RQTH ?",
    ],
)
def test_questions_that_do_not(question: str) -> None:
    assert not asks_figure(question)


@pytest.mark.parametrize(
    ("sentence", "states"),
    [
        ("Le jury est composé d'au moins deux personnes.", True),
        ("La liste est révisée tous les trois ans.", True),
        ("À l'issue du sixième mois qui suit la notification.", True),
        ("Le dispositif sera généralisé au 1er janvier 2027.", True),
        ("Un président est désigné parmi ses membres.", False),
        ("Une entreprise adaptée emploie des travailleurs handicapés.", False),
    ],
)
def test_sentences_that_state_a_figure(sentence: str, states: bool) -> None:
    assert has_figure(sentence) is states


def test_je_elided_before_a_consonant_as_people_text_it() -> None:
    from assistant.reading.analysis import words

    assert words("jpeux jbosse jsuis") == ["peux", "bosse", "suis"]
    assert words("jamais je Jean") == ["jamais", "je", "jean"]
