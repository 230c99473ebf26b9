"""Assistant for the title « Moniteur d'atelier en milieu de travail protégé » (RNCP39099)."""

from assistant.answer import Answer, Citation
from assistant.config import Settings
from assistant.core import Assistant
from assistant.errors import AssistantError

__all__ = ["Answer", "Assistant", "AssistantError", "Citation", "Settings"]
