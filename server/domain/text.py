"""Untrusted text made safe for terminals and log lines: the one definition of what may pass."""

from __future__ import annotations

import re
import unicodedata

# Unicode format characters that reorder or hide text (Trojan Source, CVE-2021-42574).
_BIDI_CONTROLS = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")

# Everything `safe_text` changes: C0 and C1 controls with DEL (category Cc), bidirectional
# controls, line and paragraph separators, lone surrogates. Text without any (nearly all of
# it) is returned as it is, found at C speed: every line on every screen passes here.
_UNSAFE = "\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029\ud800-\udfff"
_UNSAFE_LINE = re.compile(f"[\x00-\x1f{_UNSAFE}]")
# Multi-line text keeps its line feeds.
_UNSAFE_LINES = re.compile(f"[\x00-\x09\x0b-\x1f{_UNSAFE}]")


def _visible(ch: str) -> str:
    code = ord(ch)
    if code < 0x20:
        return chr(0x2400 + code)  # U+2400 block: ␛ for ESC, ␇ for BEL, ␍ for CR…
    if code == 0x7F:
        return "\u2421"  # ␡
    return "\ufffd"


def safe_text(text: str, *, multiline: bool = False) -> str:
    """Text from users, ready for a terminal: every control character and escape sequence
    neutralised into a visible stand-in, accents and emoji kept.

    ESC, the C1 range (0x80–0x9f, where 0x9b is CSI on many terminals), BEL, backspace,
    carriage return, DEL and bidirectional overrides can't reach the terminal. Tabs become
    spaces; line feeds are kept only for multi-line text. A lone surrogate (which no UTF-8
    encoder accepts) becomes U+FFFD.
    """
    if not (_UNSAFE_LINES if multiline else _UNSAFE_LINE).search(text):
        return text
    out: list[str] = []
    for ch in text:
        if ch == "\n" and multiline:
            out.append(ch)
        elif ch == "\t":
            out.append("    ")
        elif ch in _BIDI_CONTROLS:
            out.append("\ufffd")
        elif ch in "\u2028\u2029":
            out.append("\n" if multiline else " ")
        elif unicodedata.category(ch) in ("Cc", "Cs"):
            out.append(_visible(ch))
        else:
            out.append(ch)
    return "".join(out)


_REORDERING = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def unreordered(text: str) -> str:
    """Text being edited, shown as typed but for bidirectional controls and lone surrogates,
    each replaced by U+FFFD: one character for one, so that the cursor keeps its place."""
    return _REORDERING.sub("\ufffd", text)


def loggable(text: str, limit: int = 254) -> str:
    """Untrusted text for a log line: control characters escaped, so one event stays one line."""
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode() for ch in text[:limit])
