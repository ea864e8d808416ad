"""The catalogue and the sources agree, every message has its English, and the language is the
session's own: chosen from the client's environment, changed in place, never another's."""

from __future__ import annotations

import ast
import asyncio
import contextvars
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))

import messages

from server import i18n
from server.i18n import N_, _


def test_the_template_is_up_to_date():
    sources, template = set(messages.source_messages()), messages.msgids(messages.read(messages.TEMPLATE))
    assert sources == template, (
        f"server/locale/support.pot is stale: {messages.FIX}.\n"
        f"new: {sorted(sources - template)[:10]}\ngone: {sorted(template - sources)[:10]}"
    )


def test_translations_keep_the_placeholders():
    for code in messages.LANGUAGES:
        assert messages.mismatched(code) == [], (
            f"a translation in {code} must keep the French placeholders ({{id}}, {{n}}…) as they are"
        )


def test_the_interface_is_marked_for_translation():
    strings = messages.source_messages()
    for label in (
        "Se connecter",
        "Créer un compte",
        "Nouveau ticket",
        "Mes tickets",
        "Tous les tickets",
        "Déconnexion",
        "Changer le statut",
        "Confirmer ? (o/n)",
        "Ticket introuvable.",
        "E-mail ou mot de passe incorrect.",
        # marked with N_() at import time, translated where shown
        "Bienvenue sur le support technique.\n"
        "Signalez un problème (matériel, accès à la plateforme…) et suivez sa résolution.",
        "urgence, la plus haute d'abord",
    ):
        assert label in strings, label


@pytest.mark.parametrize(
    ("env", "code"),
    [
        ({"LANG": "en_US.UTF-8"}, "en"),
        ({"LANG": "en_GB.utf8"}, "en"),
        ({"LANG": "en"}, "en"),
        ({"LANG": "fr_FR.UTF-8"}, "fr"),
        ({"LC_ALL": "en_US.UTF-8", "LANG": "fr_FR.UTF-8"}, "en"),
        ({"LC_ALL": "fr_SN.UTF-8", "LANG": "en_US.UTF-8"}, "fr"),
        ({"LC_MESSAGES": "en_US.UTF-8", "LANG": "fr_FR.UTF-8"}, "en"),
        ({"LC_ALL": "", "LANG": "en_US.UTF-8"}, "en"),
        # a language not offered, or no locale name at all: the default
        ({"LANG": "de_DE.UTF-8"}, None),
        ({"LANG": "C.UTF-8"}, None),
        ({"LANG": "POSIX"}, None),
        ({"LANG": "en_US.UTF-8\x1b[2J"}, None),
        ({"LANG": "../../../etc/passwd"}, None),
        ({"LANG": "en" + "_US" * 100}, None),
        ({"LANG": "en_US.UTF-8 fr"}, None),
        ({"LC_ALL": "xx", "LANG": "en_US.UTF-8"}, None),
        ({}, None),
    ],
)
def test_the_language_from_the_client_environment(env, code):
    assert i18n.from_environment(env) == code


def test_an_unknown_code_is_french():
    for code in (None, "", "de", "EN", "en_US", "../en"):
        assert i18n.Language(code).code == "fr"


def test_marked_at_import_translated_where_shown():
    label = N_("Se connecter")
    assert label == "Se connecter"
    assert _("") == ""  # never the catalogue's header
    language = i18n.Language("en")
    with i18n.speaking(language):
        assert _(label) == i18n.catalogue("en").gettext("Se connecter")


async def test_each_task_reads_its_own_session_language():
    """Two sessions at once: each context holds its Language, changed in place by its session."""
    english, french = i18n.Language("fr"), i18n.Language("fr")
    seen: dict[str, list[str]] = {"en": [], "fr": []}
    turn = asyncio.Event()

    async def session(language: i18n.Language, name: str) -> None:
        if name == "en":
            language.set("en")  # the account's setting, after login
        await turn.wait()
        seen[name].append(i18n.current_code())

    tasks = []
    for language, name in ((english, "en"), (french, "fr")):
        context = contextvars.copy_context()
        context.run(i18n.enter, language)
        tasks.append(asyncio.get_running_loop().create_task(session(language, name), context=context))
    await asyncio.sleep(0)
    turn.set()
    await asyncio.gather(*tasks)
    assert seen == {"en": ["en"], "fr": ["fr"]}
    assert i18n.current() is None  # outside any session: French


def test_every_message_has_its_english():
    missing = messages.untranslated("en")
    assert not missing, (
        f"{len(missing)} messages without English (or only a fuzzy one): {messages.FIX}.\n"
        + "\n".join(repr(m) for m in missing[:10])
    )


def _import_time_calls(tree: ast.AST) -> list[int]:
    """Lines where _() runs at import time: module and class bodies, default arguments and
    decorators (what runs when a function is defined, not when it is called)."""
    found: list[int] = []

    def calls(node: ast.AST) -> None:
        for n in ast.walk(node):
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "_":
                found.append(n.lineno)

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                if not isinstance(child, ast.Lambda):
                    for expr in [*child.args.defaults, *child.args.kw_defaults, *child.decorator_list]:
                        if expr is not None:
                            calls(expr)
                continue
            if isinstance(child, ast.Call) and isinstance(child.func, ast.Name) and child.func.id == "_":
                found.append(child.lineno)
            visit(child)

    visit(tree)
    return found


def test_nothing_is_translated_at_import_time():
    """_() at import time would fix a string in French for every session: such strings are
    marked with N_() and passed through _() where they are shown."""
    server = Path(__file__).resolve().parent.parent / "server"
    wrong = [
        f"{path.relative_to(server.parent)}:{line}"
        for path in sorted(server.rglob("*.py"))
        for line in _import_time_calls(ast.parse(path.read_text(encoding="utf-8")))
    ]
    assert not wrong, (
        '_() runs at import time here; write N_("…") instead and _(CONSTANT) where it is shown '
        f"(README, Translations): {wrong}"
    )
