"""User-facing text: French source strings marked for gettext, so a catalogue can add English."""

from __future__ import annotations

import gettext
from pathlib import Path

LOCALE_DIR = Path(__file__).resolve().parent / "locale"

# French is the source language: with no catalogue installed, strings are shown as written.
# `xgettext -k_ server/**/*.py` extracts every marked string into a catalogue to translate.
_ = gettext.translation("support", LOCALE_DIR, fallback=True).gettext
