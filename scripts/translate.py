"""Add German lines to the catalogue: `python scripts/translate.py lines.json` where the file maps
each English message (or "singular|plural") to its German (a list for plurals). Clears the fuzzy
flag pybabel's guesses leave, so only what a person wrote is compiled."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

CATALOGUE = Path(__file__).resolve().parent.parent / "calendar_app/translations/de/LC_MESSAGES"


def main(path: str) -> int:
    lines = json.loads(Path(path).read_text(encoding="utf-8"))
    po = CATALOGUE / "messages.po"
    with po.open("rb") as handle:
        catalogue = read_po(handle)
    missing = []
    for english, german in lines.items():
        key = tuple(english.split("|")) if "|" in english else english
        message = catalogue.get(key[0] if isinstance(key, tuple) else key)
        if message is None:
            missing.append(english)
            continue
        message.string = tuple(german) if isinstance(german, list) else german
        message.flags.discard("fuzzy")
    with po.open("wb") as handle:
        write_po(handle, catalogue, width=100, no_location=True, sort_output=True)
    for english in missing:
        print(f"not in the catalogue: {english}", file=sys.stderr)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
