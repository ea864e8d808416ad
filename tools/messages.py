"""The interface's catalogue: the template extracted from the sources, each language's .po.

    .venv/bin/python tools/messages.py missing     # msgids with no translation (or fuzzy), by language
    .venv/bin/python tools/messages.py check       # what tests/test_i18n.py checks, as one report

`./dev messages` regenerates server/locale/support.pot with `pybabel extract` and merges it
into each language's .po with `pybabel update`; then translate what `missing` lists.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "server" / "locale" / "support.pot"
LANGUAGES = ("en",)
FIX = "run ./dev messages, then translate what `.venv/bin/python tools/messages.py missing` lists"


def po_path(code: str) -> Path:
    return ROOT / "server" / "locale" / code / "LC_MESSAGES" / "support.po"


def source_messages() -> dict[str, list[str]]:
    """Each string marked in server/ (with _, N_, ngettext…), with the places that use it."""
    with (ROOT / "babel.cfg").open(encoding="utf-8") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found: dict[str, list[str]] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options_map
    ):
        for msgid in message if isinstance(message, tuple) else (message,):
            if msgid:
                found.setdefault(msgid, []).append(f"{filename}:{lineno}")
    return found


def read(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as f:
        return read_po(f, locale=locale)


def msgids(catalog: Catalog) -> set[str]:
    ids: set[str] = set()
    for message in catalog:
        if message.id:
            ids.update(message.id if isinstance(message.id, tuple) else (message.id,))
    return ids


_FIELD = re.compile(r"(?<!\{)\{([^{}]*)\}(?!\})")


def placeholders(text: str) -> list[str]:
    """The str.format fields of a message ({id}, {n:>3}), as a sorted list."""
    return sorted(_FIELD.findall(text))


def untranslated(code: str) -> list[str]:
    """The template's msgids that `code` lacks: missing, empty or fuzzy in its .po."""
    template = msgids(read(TEMPLATE))
    path = po_path(code)
    catalog = read(path, code) if path.exists() else Catalog(locale=code)
    missing = []
    for msgid in sorted(template):
        message = catalog.get(msgid)
        strings = message.string if message is not None else None
        empty = not all(strings) if isinstance(strings, tuple) else not strings
        if message is None or empty or message.fuzzy:
            missing.append(msgid)
    return missing


def mismatched(code: str) -> list[tuple[str, str]]:
    """(msgid, translation) whose placeholders differ: the translation would fail to format."""
    wrong = []
    for message in read(po_path(code), code):
        if not message.id or not message.string or message.fuzzy:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        wanted = placeholders(ids[0])
        for string in strings:
            if string and placeholders(string) != wanted:
                wrong.append((ids[0], string))
    return wrong


def report() -> list[str]:
    problems = []
    sources, template = set(source_messages()), msgids(read(TEMPLATE))
    if sources != template:
        new, gone = sorted(sources - template), sorted(template - sources)
        problems.append(
            f"server/locale/support.pot is stale ({len(new)} new, {len(gone)} gone msgids): {FIX}"
        )
        problems += [f"  new: {m!r}" for m in new[:20]] + [f"  gone: {m!r}" for m in gone[:20]]
    for code in LANGUAGES:
        missing = untranslated(code)
        if missing:
            problems.append(
                f"{len(missing)} msgids without a {code} translation"
                f" in {po_path(code).relative_to(ROOT)}: {FIX}"
            )
            problems += [f"  {m!r}" for m in missing[:20]]
        for msgid, string in mismatched(code):
            problems.append(f"placeholders differ in {code}: {msgid!r} -> {string!r}")
    return problems


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "check"
    if command == "missing":
        codes = argv[1:] or list(LANGUAGES)
        count = 0
        for code in codes:
            for msgid in untranslated(code):
                print(f"{code}\t{msgid!r}")
                count += 1
        print(f"{count} untranslated", file=sys.stderr)
        return 1 if count else 0
    if command == "check":
        problems = report()
        print("\n".join(problems) or "catalogue up to date, every message translated")
        return 1 if problems else 0
    print(__doc__, file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
