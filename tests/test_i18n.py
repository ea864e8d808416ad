"""The gettext template lists every French string of the interface, so a translation can cover it."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))

import extract_messages


def test_the_template_is_up_to_date():
    assert extract_messages.TEMPLATE.read_text(encoding="utf-8") == extract_messages.template(), (
        "server/locale/support.pot is stale: run .venv/bin/python tools/extract_messages.py"
    )


def test_the_interface_is_marked_for_translation():
    strings = extract_messages.marked_strings()
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
    ):
        assert label in strings, label
