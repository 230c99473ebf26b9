"""A cited-answers assistant for one professional title, answering from the documents of `corpus/` only."""

from assistant.answer.types import Answer, Citation
from assistant.config import Settings
from assistant.core import Assistant
from assistant.errors import AssistantError

__all__ = ["Answer", "Assistant", "AssistantError", "Citation", "Settings"]
