"""Words people read, in their own language: marked where they are written, rendered at the edge.

A rule writes `_l("only a communications head or an admin may discard %(what)s", what=...)`
(or `_n(singular, plural, count)` when a number decides the form). What it gets back is a `Text`:
an ordinary string in English — logs, tests and code that compares words keep working — that
remembers its catalogue entry and its facts, so the edge that answers a person renders it again in
theirs: the API in the request's language, a page in the reader's, an e-mail in the recipient's.
`pybabel extract` finds the messages through the `_l` and `_n` keywords (see the Makefile).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel.support import NullTranslations, Translations

TRANSLATIONS = Path(__file__).parent / "translations"
LANGUAGES = ("de", "en")
DEFAULT_LOCALE = "de"


class Text(str):
    """A message in English that can be said again in another language (`in_locale`)."""

    message: str
    plural: str | None
    count: int | None
    params: Mapping[str, Any]

    def __new__(
        cls,
        message: str,
        params: Mapping[str, Any] | None = None,
        *,
        plural: str | None = None,
        count: int | None = None,
    ) -> Text:
        facts = dict(params or {})
        if count is not None:
            facts.setdefault("count", count)
        english = _fill(message if plural is None or count == 1 else plural, facts)
        text = super().__new__(cls, english)
        text.message, text.plural, text.count, text.params = message, plural, count, facts
        return text

    def in_locale(self, locale: str | None) -> str:
        catalogue = translations(known_locale(locale))
        if self.plural is not None and self.count is not None:
            pattern = catalogue.ngettext(self.message, self.plural, self.count)
        else:
            pattern = catalogue.gettext(self.message)
        facts = {key: say(value, locale) for key, value in self.params.items()}
        return _fill(pattern, facts)

    def stored(self) -> dict[str, Any]:
        """A form for a JSON column (`from_stored` reads it back): a notice kept for later."""
        facts = {
            key: {"text": value.stored()} if isinstance(value, Text) else value
            for key, value in self.params.items()
        }
        return {
            "message": self.message,
            "plural": self.plural,
            "count": self.count,
            "params": facts,
        }

    @classmethod
    def from_stored(cls, stored: Mapping[str, Any]) -> Text:
        facts = {
            key: cls.from_stored(value["text"])
            if isinstance(value, dict) and set(value) == {"text"}
            else value
            for key, value in dict(stored.get("params") or {}).items()
        }
        return cls(stored["message"], facts, plural=stored.get("plural"), count=stored.get("count"))

    def __reduce__(self) -> tuple[Any, ...]:  # pickling and copying keep the facts
        return (_rebuild, (self.message, dict(self.params), self.plural, self.count))


def _rebuild(message: str, params: dict[str, Any], plural: str | None, count: int | None) -> Text:
    return Text(message, params, plural=plural, count=count)


def _fill(pattern: str, facts: Mapping[str, Any]) -> str:
    return pattern % facts if facts else pattern


def _l(message: str, **params: Any) -> Text:
    """A message for the catalogue (pybabel's `_l` keyword), with the facts it names."""
    return Text(message, params)


def _n(singular: str, plural: str, count: int, **params: Any) -> Text:
    """A message whose form depends on `count` (pybabel's `_n:1,2` keyword); `%(count)s`."""
    return Text(singular, params, plural=plural, count=count)


def joined(parts: Iterable[Any], separator: str = "; ") -> Text:
    """Several messages (or plain strings) in a row, each said in the reader's language."""
    facts = {f"part{number}": part for number, part in enumerate(parts)}
    return Text(separator.join(f"%({name})s" for name in facts), facts)


def say(value: Any, locale: str | None) -> Any:
    """`value` in `locale` when it is a `Text` (or holds some); anything else as it is."""
    if isinstance(value, Text):
        return value.in_locale(locale)
    if isinstance(value, dict):
        return {key: say(item, locale) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(say(item, locale) for item in value)
    return value


def words_of(value: object) -> dict[str, Any] | None:
    """What to keep beside a stored English string so it can be said again (`said_again`)."""
    return value.stored() if isinstance(value, Text) else None


def said_again(english: str | None, words: Mapping[str, Any] | None) -> str | None:
    """The stored English as a `Text` again when its words were kept and still match it."""
    if english is None or not words:
        return english
    try:
        text = Text.from_stored(words)
    except (KeyError, TypeError, ValueError):
        return english
    return text if text == english else english


def known_locale(locale: str | None) -> str:
    return locale if locale in LANGUAGES else DEFAULT_LOCALE


@lru_cache(maxsize=8)
def translations(locale: str) -> NullTranslations:
    if locale == "en":
        return NullTranslations()
    return Translations.load(str(TRANSLATIONS), [locale])


def gettext(message: str, locale: str | None) -> str:
    return translations(known_locale(locale)).gettext(message)


def ngettext(singular: str, plural: str, count: int, locale: str | None) -> str:
    return translations(known_locale(locale)).ngettext(singular, plural, count) % {"count": count}
