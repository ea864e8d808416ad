"""Security functions directly: text made safe for terminals, bcrypt hashing off the event loop."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import unicodedata

import bcrypt
import pytest

from server.domain.text import loggable, safe_text
from server.security import BCRYPT_MAX_BYTES, PasswordHasher, hash_threads

COST = 4

# Characters a terminal may act on instead of displaying them.
DANGEROUS = {
    "ESC": "\x1b",
    "BEL": "\x07",
    "backspace": "\x08",
    "carriage return": "\r",
    "DEL": "\x7f",
    "NUL": "\x00",
    "C1 CSI": "\x9b",
    "C1 OSC": "\x9d",
    "C1 first": "\x80",
    "C1 last": "\x9f",
    "bidi RLO": "\u202e",
    "bidi LRO": "\u202d",
    "bidi RLI": "\u2067",
    "bidi PDI": "\u2069",
}

BIDI_CONTROLS = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")


# safe_text ------------------------------------------------------------------------------


@pytest.mark.parametrize("multiline", [False, True])
@pytest.mark.parametrize("name", sorted(DANGEROUS))
def test_dangerous_character_never_reaches_the_terminal(name, multiline):
    ch = DANGEROUS[name]
    out = safe_text(f"avant{ch}après", multiline=multiline)
    assert ch not in out
    # Replaced by exactly one visible stand-in, the text around it kept.
    assert out.startswith("avant") and out.endswith("après")
    stand_in = out[len("avant") : -len("après")]
    assert len(stand_in) == 1 and stand_in.isprintable() and not stand_in.isspace()


@pytest.mark.parametrize(
    ("ch", "stand_in"),
    [("\x1b", "␛"), ("\x07", "␇"), ("\x08", "␈"), ("\r", "␍"), ("\x00", "␀"), ("\x7f", "␡")],
)
def test_c0_controls_shown_as_control_pictures(ch, stand_in):
    assert safe_text(f"a{ch}b") == f"a{stand_in}b"


def test_csi_sequence_neutralised():
    out = safe_text("titre \x1b[2J\x1b[31mrouge\x1b[0m fin")
    assert "\x1b" not in out
    assert out == "titre ␛[2J␛[31mrouge␛[0m fin"


def test_osc_title_set_with_bel_neutralised():
    out = safe_text("\x1b]0;piège\x07suite")
    assert "\x1b" not in out and "\x07" not in out
    assert out == "␛]0;piège␇suite"


def test_c1_csi_neutralised():
    # U+009B is a one-character CSI on many terminals: "\x9b2J" would clear the screen.
    out = safe_text("a\x9b2Jb\x9d0;x\x9cc")
    assert not any(0x80 <= ord(c) <= 0x9F for c in out)
    assert out == "a\ufffd2Jb\ufffd0;x\ufffdc"


def test_bidi_override_neutralised():
    # Trojan Source: U+202E would display "txt.exe" as "exe.txt".
    out = safe_text("facture\u202etxt.exe")
    assert "\u202e" not in out
    assert out == "facture\ufffdtxt.exe"


def test_accents_emoji_and_cjk_kept():
    text = "Évènement à Dakar : ça ne charge plus 🔌 — 充电器坏了 — Ğ ñ ß"
    assert safe_text(text) == text
    assert safe_text(text, multiline=True) == text


def test_tab_becomes_spaces():
    out = safe_text("a\tb")
    assert "\t" not in out
    assert out == "a    b"


def test_newline_kept_only_when_multiline():
    assert safe_text("ligne 1\nligne 2", multiline=True) == "ligne 1\nligne 2"
    single = safe_text("ligne 1\nligne 2")
    assert "\n" not in single
    assert single == "ligne 1␊ligne 2"


def test_unicode_line_separators():
    assert safe_text("a\u2028b\u2029c", multiline=True) == "a\nb\nc"
    assert safe_text("a\u2028b\u2029c") == "a b c"


@pytest.mark.parametrize("multiline", [False, True])
def test_no_control_character_survives_any_code_point(multiline):
    # Every code point, in chunks, so that a failure names the first offending character.
    chunk = 0x10000
    for start in range(0, sys.maxunicode + 1, chunk):
        text = "".join(chr(c) for c in range(start, min(start + chunk, sys.maxunicode + 1)))
        out = safe_text(text, multiline=multiline)
        bad = [
            c
            for c in out
            if (unicodedata.category(c) == "Cc" and not (multiline and c == "\n")) or c in BIDI_CONTROLS
        ]
        assert not bad, f"U+{ord(bad[0]):04X} left raw (chunk from U+{start:04X})"


def test_ordinary_text_is_unchanged_for_every_printable_code_point():
    # The sanitiser removes controls only: every other assigned, printable character is kept.
    for c in range(0x20, 0x30000):
        ch = chr(c)
        if ch.isprintable():
            assert safe_text(ch) == ch, f"U+{c:04X} altered"


# PasswordHasher -------------------------------------------------------------------------


async def test_hash_and_verify_round_trip():
    hasher = PasswordHasher(COST)
    hashed = await hasher.hash("motdepasse-solide")
    assert hashed.startswith("$2b$04$") and len(hashed) == 60
    assert "motdepasse-solide" not in hashed
    assert await hasher.verify("motdepasse-solide", hashed) is True
    # A fresh salt every time.
    assert await hasher.hash("motdepasse-solide") != hashed


async def test_wrong_password_refused():
    hasher = PasswordHasher(COST)
    hashed = await hasher.hash("motdepasse-solide")
    assert await hasher.verify("motdepasse-solidE", hashed) is False
    assert await hasher.verify("", hashed) is False


async def test_no_hash_means_unknown_account_refused():
    hasher = PasswordHasher(COST)
    assert await hasher.verify("motdepasse-solide", None) is False
    # Not even the password the decoy was made from.
    assert await hasher.verify("decoy password never matches", None) is False


async def test_password_over_72_bytes_refused_by_hash():
    hasher = PasswordHasher(COST)
    with pytest.raises(ValueError):
        await hasher.hash("x" * (BCRYPT_MAX_BYTES + 1))
    # 37 accented letters: 37 characters but 74 bytes.
    with pytest.raises(ValueError):
        await hasher.hash("é" * 37)


async def test_verify_refuses_over_long_password_even_if_its_first_72_bytes_match():
    hasher = PasswordHasher(COST)
    prefix = "p" * BCRYPT_MAX_BYTES
    hashed = await hasher.hash(prefix)
    assert await hasher.verify(prefix, hashed) is True
    assert await hasher.verify(prefix + "suite", hashed) is False


async def test_accented_password_exactly_at_the_limit():
    hasher = PasswordHasher(COST)
    password = "é" * 36
    assert len(password.encode("utf-8")) == BCRYPT_MAX_BYTES
    hashed = await hasher.hash(password)
    assert await hasher.verify(password, hashed) is True
    assert await hasher.verify("é" * 35 + "e", hashed) is False


async def test_bcrypt_runs_off_the_event_loop_thread(monkeypatch):
    calls: list[tuple[str, threading.Thread]] = []
    real_hashpw, real_checkpw = bcrypt.hashpw, bcrypt.checkpw

    def hashpw(*args):
        calls.append(("hashpw", threading.current_thread()))
        return real_hashpw(*args)

    def checkpw(*args):
        calls.append(("checkpw", threading.current_thread()))
        return real_checkpw(*args)

    monkeypatch.setattr(bcrypt, "hashpw", hashpw)
    monkeypatch.setattr(bcrypt, "checkpw", checkpw)

    loop_thread = threading.current_thread()
    hasher = PasswordHasher(COST)
    hashed = await hasher.hash("motdepasse-solide")
    assert await hasher.verify("motdepasse-solide", hashed)
    assert not await hasher.verify("mauvais-mot", hashed)
    assert not await hasher.verify("motdepasse-solide", None)  # unknown account: decoy work

    names = [name for name, _ in calls]
    assert names.count("hashpw") == 2  # the password, then the decoy
    assert names.count("checkpw") == 3
    for name, thread in calls:
        assert thread is not loop_thread, f"{name} ran on the event loop thread"
        assert thread is not threading.main_thread(), f"{name} ran on the main thread"
        assert thread.name.startswith("bcrypt"), f"{name} ran outside the hasher's own threads"


def test_bcrypt_leaves_a_core_to_the_event_loop(monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    assert hash_threads(0) == 7
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    assert hash_threads(0) == 1
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    assert hash_threads(0) == 1
    assert hash_threads(3) == 3


async def test_logins_beyond_the_pool_queue_instead_of_failing():
    hasher = PasswordHasher(COST, threads=1)
    hashed = await hasher.hash("motdepasse-solide")
    results = await asyncio.gather(*(hasher.verify("motdepasse-solide", hashed) for _ in range(6)))
    assert results == [True] * 6
    hasher.close()


def test_loggable_keeps_one_event_on_one_line():
    assert loggable("alice@example.org") == "alice@example.org"
    assert loggable("Aïssatou 🔌") == "Aïssatou 🔌"
    forged = "x\nINFO support.sshd addr=1.2.3.4 user=admin ssh auth succeeded\x1b[2K\r"
    out = loggable(forged)
    assert "\n" not in out and "\r" not in out and "\x1b" not in out
    assert out.startswith("x\\nINFO")
    assert len(loggable("a" * 1000)) == 254
