"""Errors the assistant raises; each message says what happened and what to do next."""

from __future__ import annotations


class AssistantError(Exception):
    """Base of every error meant to be shown to a user as it is."""


class ConfigError(AssistantError):
    """A setting has a value the assistant cannot use."""


class IndexMissingError(AssistantError):
    """No index has been built yet."""

    def __init__(self, where: str) -> None:
        super().__init__(f"Aucun index trouvé dans {where} : lancez `python ingest.py`.")


class IndexModelMismatchError(AssistantError):
    """The index was embedded by another model than the one that embeds questions: its vectors and
    the question's cannot be compared."""

    def __init__(self, where: str, built_with: str, loaded: str) -> None:
        super().__init__(
            f"L'index de {where} a été construit avec un autre modèle ({built_with}) que celui chargé ({loaded}) : "
            "relancez `python ingest.py` pour le reconstruire."
        )


class IndexFormatMismatchError(IndexModelMismatchError):
    """The index was built by a version of the assistant that cut passages into other sentences:
    some sentences the reader scores have no vector."""

    def __init__(self, where: str, missing: int) -> None:
        AssistantError.__init__(
            self,
            f"L'index de {where} a été construit par une autre version du découpage en phrases ({missing} "
            "phrase(s) sans vecteur) : relancez `python ingest.py` pour le mettre à jour.",
        )


class StoreUnavailableError(AssistantError):
    """The Chroma server cannot be reached."""

    def __init__(self, url: str) -> None:
        super().__init__(f"Le serveur Chroma ({url}) ne répond pas : vérifiez qu'il est démarré, puis réessayez.")


class ModelUnavailableError(AssistantError):
    """The embedding model cannot be loaded."""


class EmptyCorpusError(AssistantError):
    """Ingest found no usable document."""

    def __init__(self, corpus_dir: str) -> None:
        super().__init__(
            f"Aucun document utilisable dans {corpus_dir} : ajoutez-y des fichiers .txt ou .md, "
            "puis relancez `python ingest.py`."
        )


class InvalidQuestionError(AssistantError):
    """The question cannot be read (empty, or only control characters)."""


class DiskFullError(AssistantError):
    """The disk filled up while the index was being written."""

    def __init__(self, where: str) -> None:
        super().__init__(
            f"Plus d'espace disque pour l'index dans {where} : libérez de la place, puis relancez "
            "`python ingest.py` (l'index en service n'a pas changé)."
        )
