"""One-time codes, for password resets and address checks alike: made, shown, and kept only as
a hash."""

from __future__ import annotations

import hashlib
import secrets

# No 0/O, 1/I/L: a code read out on the phone is typed back as it was heard.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 12


def new_code(length: int = CODE_LENGTH) -> str:
    """A fresh code: 12 characters of 31, about 59 bits, from the system's secure source."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(length))


def normalised(code: str) -> str:
    """The code as typed, in upper case, without the dashes and spaces it was shown with."""
    return "".join(ch for ch in code.upper() if ch not in " -\t")


def code_hash(code: str) -> str:
    """What the database keeps of a code: the hex SHA-256 of its normalised form."""
    return hashlib.sha256(normalised(code).encode("utf-8")).hexdigest()


def shown(code: str) -> str:
    """The code in groups of four, easier to read out: ABCD-EFGH-JKMN."""
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))
