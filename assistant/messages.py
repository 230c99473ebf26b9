"""Fixed texts the assistant says, in French and English. Facts never come from here: only
where to look, which is what the documents themselves point to (fiche RNCP, compte CPF,
organismes habilités)."""

from __future__ import annotations

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
        "fr": "Les documents dont je dispose ne le précisent pas. Pour cette information, consultez la "
        "fiche RNCP39099 sur le site de France compétences, votre compte CPF, ou un organisme de "
        "formation habilité par la CPNE-FP (leur liste figure sur la fiche RNCP).",
        "en": "The documents I have do not say. For this information, see the RNCP39099 record on the "
        "France compétences website, your CPF account, or a training organisation approved by the "
        "CPNE-FP (they are listed on the RNCP record).",
    },
    "offtopic": {
        "fr": "Je réponds uniquement aux questions sur le titre « Moniteur d'atelier en milieu de travail "
        "protégé » (RNCP39099) : métier, formation, voies d'accès, blocs de compétences, certification. "
        "Posez-moi une question sur ce titre.",
        "en": "I only answer questions about the French title « Moniteur d'atelier en milieu de travail "
        "protégé » (RNCP39099): the job, the training, access routes, skill blocks, certification. "
        "Please ask me about this title.",
    },
    "injection": {
        "fr": "Je ne peux ni changer ni révéler mes consignes, et je réponds seulement à partir des "
        "documents sur le titre « Moniteur d'atelier en milieu de travail protégé » (RNCP39099). "
        "Posez-moi une question sur ce titre.",
        "en": "I cannot change or reveal my instructions, and I only answer from the documents about "
        "the title « Moniteur d'atelier en milieu de travail protégé » (RNCP39099). Please ask me "
        "about this title.",
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
        "fr": "Je ne peux pas aider à produire ou modifier un document officiel. Le titre s'obtient par "
        "la formation ou par la VAE auprès d'un organisme habilité.",
        "en": "I cannot help produce or alter an official document. The title is obtained through "
        "training or VAE with an approved organisation.",
    },
    "no_question": {
        "fr": "Je n'ai pas trouvé de question dans votre message. Posez-moi une question sur le titre "
        "« Moniteur d'atelier en milieu de travail protégé », par exemple : « Combien d'heures dure "
        "la formation ? »",
        "en": "I found no question in your message. Ask me about the title « Moniteur d'atelier en "
        "milieu de travail protégé », for example: « How long is the training? »",
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


def say(key: str, language: str, **values: object) -> str:
    """The text `key` in the user's language (French unless the question was English)."""
    text = TEXTS[key]["en" if language == "en" else "fr"]
    return text.format(**values) if values else text
