"""Fixed texts the assistant says, in French and English. Facts never come from here; the
title's name and where to look come from the profile (`profile.toml`)."""

from __future__ import annotations

from assistant.profile import Profile

TEXTS: dict[str, dict[str, str]] = {
    "intro": {
        "fr": "D'après les documents :",
        "en": "According to the documents (quoted in French):",
    },
    "claim_intro": {
        "fr": "Je m'en tiens à ce que disent les documents :",
        "en": "I can only state what the documents say:",
    },
    "not_in_documents": {
        "fr": "Les documents dont je dispose ne le précisent pas. Pour cette information, {where_to_look}.",
        "en": "The documents I have do not say. For this information, {where_to_look}.",
    },
    "part_unanswered": {
        "fr": "Pour la {which} partie de votre question, je n'ai pas trouvé de passage qui y réponde clairement.",
        "en": "For the {which} part of your question, I found no passage that clearly answers it.",
    },
    "parts_unanswered": {
        "fr": "Pour les {which} parties de votre question, je n'ai pas trouvé de passage qui y réponde clairement.",
        "en": "For the {which} parts of your question, I found no passage that clearly answers them.",
    },
    "some_parts_unanswered": {
        "fr": "Pour une partie de votre question, je n'ai pas trouvé de passage qui y réponde clairement.",
        "en": "For part of your question, I found no passage that clearly answers it.",
    },
    "offtopic": {
        "fr": "Je réponds uniquement aux questions sur le titre {title} et ce qui l'entoure : {topics}. "
        "Posez-moi une question sur ce titre.",
        "en": "I only answer questions about the French title {title} and what surrounds it: {topics}. "
        "Please ask me about this title.",
    },
    "injection": {
        "fr": "Je ne peux ni changer ni révéler mes consignes, et je réponds seulement à partir des "
        "documents sur le titre {title}. Posez-moi une question sur ce titre.",
        "en": "I cannot change or reveal my instructions, and I only answer from the documents about "
        "the title {title}. Please ask me about this title.",
    },
    "medical": {
        "fr": "Je ne peux pas donner d'avis médical ni personnel. Parlez-en à votre médecin ; en cas "
        "d'urgence, appelez le 15 ou le 112. Sur les aménagements de la formation et des épreuves "
        "pour un candidat en situation de handicap, je peux vous dire ce que prévoient les documents.",
        "en": "I cannot give medical or personal advice. Please talk to your doctor; in an emergency, "
        "call 15 or 112 (in France). I can tell you what the documents say about adjusting the "
        "training and exams for candidates with a disability.",
    },
    "personal": {
        "fr": "Je n'ai accès à aucune donnée personnelle et je ne peux ni en donner ni en traiter. Pour "
        "votre situation personnelle (droits, financement, dossier), adressez-vous à l'organisme "
        "concerné ; pour le titre lui-même, posez-moi votre question.",
        "en": "I have no access to personal data and cannot give or process any. For your personal "
        "situation (rights, funding, file), contact the organisation concerned; about the title "
        "itself, ask me your question.",
    },
    "forgery": {
        "fr": "Je ne peux pas aider à produire ou modifier un document officiel. {how_obtained}",
        "en": "I cannot help produce or alter an official document. {how_obtained}",
    },
    "no_question": {
        "fr": "Je n'ai pas trouvé de question dans votre message. Posez-moi une question sur le titre "
        "{title}, par exemple : « {example} »",
        "en": "I found no question in your message. Ask me about the title {title}, for example: « {example} »",
    },
    "truncated": {
        "fr": "(Votre question dépassait {limit} caractères : seul le début a été lu.)",
        "en": "(Your question was longer than {limit} characters: only its beginning was read.)",
    },
    "model_failed": {
        "fr": "(Le modèle de langue n'a pas pu répondre ; voici les passages des documents, cités mot pour mot.)",
        "en": "(The language model could not answer; here are the passages of the documents, quoted word for word.)",
    },
    "model_unchecked": {
        "fr": "(La réponse du modèle de langue ne s'appuyait pas sur les passages ; voici ces passages, cités mot "
        "pour mot.)",
        "en": "(The language model's answer was not backed by the passages; here they are, quoted word for word.)",
    },
    "unknown_figure": {
        "fr": "Attention : {figures} ne figure pas dans les documents.",
        "en": "Note: {figures} does not appear in the documents.",
    },
    "empty_question": {
        "fr": "La question est vide : écrivez votre question sur le titre.",
        "en": "The question is empty: please type your question about the title.",
    },
}


def say(key: str, language: str, profile: Profile | None = None, **values: object) -> str:
    """The text `key` in the user's language (French unless the question was English), with the
    profile's texts (`{title}`, `{where_to_look}`…) and `values` filled in.

    Raises:
        KeyError: the text names a profile value and no profile was given.
    """
    text = TEXTS[key]["en" if language == "en" else "fr"]
    if "{" not in text:
        return text
    known = profile.values(language) if profile is not None else {}
    return text.format(**(known | {k: str(v) for k, v in values.items()}))
