"""SSH public keys as users paste them: one OpenSSH line parsed, weak or wrong keys refused."""

from __future__ import annotations

import re
from dataclasses import dataclass

import asyncssh

from ..errors import ValidationError
from ..i18n import N_, _

# A line of authorized_keys / id_*.pub: "<type> <base64> [comment]"; an RSA key of 16,384 bits
# takes under 3,000 characters.
KEY_LINE_MAX = 8000
COMMENT_MAX = 200
RSA_MIN_BITS = 2048
# Key types OpenSSH offers today; DSA (ssh-dss) and anything else are refused.
ACCEPTED_ALGORITHMS = frozenset(
    {
        "ssh-ed25519",
        "ssh-ed448",
        "ecdsa-sha2-nistp256",
        "ecdsa-sha2-nistp384",
        "ecdsa-sha2-nistp521",
        "ssh-rsa",
        "sk-ssh-ed25519@openssh.com",
        "sk-ecdsa-sha2-nistp256@openssh.com",
    }
)

UNRECOGNISED = N_(
    "Clé non reconnue : collez une seule ligne au format OpenSSH (ssh-ed25519 AAAA… commentaire)."
)

_LINE = re.compile(r"(?P<type>[A-Za-z0-9@.-]+) +(?P<data>[A-Za-z0-9+/]+={0,2})(?: +(?P<comment>.*))?")


@dataclass(frozen=True)
class PublicKey:
    """What `cles_ssh` stores of a key: the storage contract the SSH layer reads back."""

    algorithm: str  # key.get_algorithm()
    openssh: str  # "<algorithm> <base64>", without the comment
    fingerprint: str  # "SHA256:…"
    comment: str


def parse_public_key(text: str) -> PublicKey:
    """The key on one pasted OpenSSH line; `ValidationError` with one French sentence if refused.

    The pasted text is never logged nor put in a message: it may be a private key by mistake.
    """
    text = text.strip()
    if not text:
        raise ValidationError(_("Collez votre clé publique (le contenu du fichier .pub)."))
    if "PRIVATE KEY" in text or text.startswith("PuTTY-User-Key-File"):
        raise ValidationError(
            _("Ceci est une clé privée : ne la donnez jamais. Collez la clé publique (fichier .pub).")
        )
    if len(text) > KEY_LINE_MAX:
        raise ValidationError(
            _("Texte trop long pour une clé publique ({n} caractères, {max} au plus).").format(
                n=len(text), max=KEY_LINE_MAX
            )
        )
    match = _LINE.fullmatch(text)
    # The key data starts with the length of its type name: "AAAA" in base64.
    if match is None or not match["data"].startswith("AAAA"):
        raise ValidationError(_(UNRECOGNISED))
    kind = match["type"]
    if kind == "ssh-dss":
        raise ValidationError(
            _("Les clés DSA (ssh-dss) ne sont plus sûres : créez une clé avec « ssh-keygen -t ed25519 ».")
        )
    if kind not in ACCEPTED_ALGORITHMS:
        raise ValidationError(
            _("Type de clé non accepté ({kind}) : utilisez ssh-ed25519, ecdsa ou ssh-rsa.").format(
                kind=kind[:40]
            )
        )
    try:
        key = asyncssh.import_public_key(f"{kind} {match['data']}")
    except (asyncssh.KeyImportError, ValueError):
        raise ValidationError(_(UNRECOGNISED)) from None
    algorithm = key.get_algorithm()
    if algorithm != kind:  # asyncssh checks this today; the stored type must be the key's own
        raise ValidationError(_(UNRECOGNISED))
    if algorithm == "ssh-rsa":
        bits = key.pyca_key.key_size
        if bits < RSA_MIN_BITS:
            raise ValidationError(
                _(
                    "Clé RSA trop courte ({bits} bits, {min} au moins) : "
                    "créez une clé avec « ssh-keygen -t ed25519 »."
                ).format(bits=bits, min=RSA_MIN_BITS)
            )
    comment = (match["comment"] or "").strip()
    if len(comment) > COMMENT_MAX:
        raise ValidationError(
            _("Le commentaire de la clé est trop long ({n} caractères, {max} au plus).").format(
                n=len(comment), max=COMMENT_MAX
            )
        )
    # Exported again rather than the text as pasted: one canonical form for one key.
    openssh = " ".join(key.export_public_key("openssh").decode("ascii").split()[:2])
    return PublicKey(algorithm, openssh, key.get_fingerprint("sha256"), comment)
