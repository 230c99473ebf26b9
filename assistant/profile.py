"""The assistant's subject, read from `profile.toml`: the title's name, where to look when the
documents do not say, the example questions. Nothing else in the code names the title."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from assistant.errors import ConfigError


@dataclass(frozen=True)
class Profile:
    """The title-specific texts; each bilingual one is a {"fr": …, "en": …} mapping."""

    name: str
    reference: str
    examples: tuple[str, ...]
    documents: tuple[str, ...]  # the title's own documents in corpus/ (file names), favoured by the reader
    names: tuple[str, ...]  # how a question names the title (folded), making it a question about the title
    titles: dict[str, str]  # what a corpus file is cited by, when neither SOURCES.md nor the file says
    example_facts: dict[str, tuple[str, ...]]  # what the answer to each example must say
    topics: dict[str, str]
    where_to_look: dict[str, str]
    how_obtained: dict[str, str]

    @property
    def title(self) -> str:
        """« Name » (REFERENCE), as the messages quote it."""
        return f"« {self.name} » ({self.reference})" if self.reference else f"« {self.name} »"

    def values(self, language: str) -> dict[str, str]:
        """The placeholders of the fixed messages, in the user's language."""
        lang = "en" if language == "en" else "fr"
        return {
            "title": self.title,
            "name": self.name,
            "topics": self.topics.get(lang, ""),
            "where_to_look": self.where_to_look.get(lang, ""),
            "how_obtained": self.how_obtained.get(lang, ""),
            "example": self.examples[0] if self.examples else "",
        }


def read_profile(path: Path) -> Profile:
    """Reads and checks a profile file.

    Raises:
        ConfigError: the file is missing, not TOML, or lacks a field (the message names it).
    """
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ConfigError(f"Profil introuvable : {path} ({err.strerror}).") from err
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"Profil illisible : {path} ({err}).") from err
    try:
        return Profile(
            name=str(data["name"]),
            reference=str(data.get("reference", "")),
            examples=tuple(str(e) for e in data.get("examples", ())),
            documents=tuple(str(d) for d in data.get("documents", ())),
            names=tuple(str(n) for n in data.get("names", ())),
            titles={str(k): str(v) for k, v in data.get("titles", {}).items()},
            example_facts={str(k): tuple(str(f) for f in v) for k, v in data.get("example_facts", {}).items()},
            topics=dict(data["topics"]),
            where_to_look=dict(data["where_to_look"]),
            how_obtained=dict(data.get("how_obtained", {})),
        )
    except (KeyError, TypeError, ValueError) as err:
        raise ConfigError(f"Profil incomplet : {path} (champ {err} manquant ou mal formé).") from err
