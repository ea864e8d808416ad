"""Write server/locale/support.pot: every French string of the interface marked with _().

    .venv/bin/python tools/extract_messages.py

A translator copies it to server/locale/<lang>/LC_MESSAGES/support.po and compiles it with
msgfmt; French, the source language, needs no catalogue.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

SERVER = Path(__file__).resolve().parent.parent / "server"
TEMPLATE = SERVER / "locale" / "support.pot"

HEADER = """# Support Tickets — strings of the console application (source language: French).
msgid ""
msgstr ""
"Project-Id-Version: Support Tickets\\n"
"MIME-Version: 1.0\\n"
"Content-Type: text/plain; charset=UTF-8\\n"
"Content-Transfer-Encoding: 8bit\\n"
"""


def marked_strings() -> dict[str, list[str]]:
    """Each string passed to _() in server/, with the places that use it."""
    found: dict[str, list[str]] = {}
    for path in sorted(SERVER.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "_"
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                where = f"{path.relative_to(SERVER.parent)}:{node.lineno}"
                found.setdefault(node.args[0].value, []).append(where)
    return found


def template() -> str:
    entries = [HEADER]
    for message in sorted(marked_strings()):
        # JSON string syntax is the PO syntax for what these strings hold (quotes, \n, UTF-8).
        entries.append(f'msgid {json.dumps(message, ensure_ascii=False)}\nmsgstr ""\n')
    return "\n".join(entries)


if __name__ == "__main__":
    TEMPLATE.parent.mkdir(parents=True, exist_ok=True)
    TEMPLATE.write_text(template(), encoding="utf-8")
    print(f"{TEMPLATE}: {len(marked_strings())} messages")
