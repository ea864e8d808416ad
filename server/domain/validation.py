"""Rules for what users type: one clear French sentence for each refusal."""

from __future__ import annotations

import ipaddress
import re

from ..errors import ValidationError
from ..i18n import _
from ..security import BCRYPT_MAX_BYTES
from .models import Status, Urgency

NAME_MAX = 80
EMAIL_MAX = 254
PASSWORD_MIN = 8
PASSWORD_MAX_BYTES = BCRYPT_MAX_BYTES
TITLE_MAX = 120
CATEGORY_MAX = 60
PLACE_MAX = 60
# The longest network as written: an IPv6 address in full and its prefix.
NETWORK_MAX = 49
DESCRIPTION_MAX = 4000
MESSAGE_MAX = 4000

# Pragmatic address syntax: local part of common characters, a dotted domain with a TLD.
_EMAIL = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@([A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)


# What a one-line field refuses besides line breaks: C0 controls (ESC, BEL, tab...), DEL and C1.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def _bounded(
    value: str,
    limit: int,
    missing: str,
    too_long: str,
    multiline_refused: str = "",
    control_refused: str = "",
) -> str:
    """`value` if present, at most `limit` characters and, unless allowed, on one line and
    free of control characters."""
    if not value:
        raise ValidationError(missing)
    if len(value) > limit:
        raise ValidationError(too_long.format(n=len(value), max=limit))
    if multiline_refused and any(ch in value for ch in "\r\n\u2028\u2029"):
        raise ValidationError(multiline_refused)
    if control_refused and _CONTROL.search(value):
        raise ValidationError(control_refused)
    return value


def name(value: str) -> str:
    return _bounded(
        value.strip(),
        NAME_MAX,
        _("Le nom est obligatoire."),
        _("Le nom est trop long ({n} caractères, {max} au plus)."),
        _("Le nom doit tenir sur une seule ligne."),
        _("Le nom ne peut pas contenir de caractères de contrôle (Échap, tabulation…)."),
    )


def email(value: str) -> str:
    value = value.strip().lower()
    if not value:
        raise ValidationError(_("L'e-mail est obligatoire."))
    if len(value) > EMAIL_MAX or not _EMAIL.fullmatch(value):
        raise ValidationError(_("Adresse e-mail invalide (exemple : prenom.nom@exemple.org)."))
    return value


def new_password(value: str) -> str:
    if len(value) < PASSWORD_MIN:
        raise ValidationError(
            _("Le mot de passe doit faire au moins {min} caractères.").format(min=PASSWORD_MIN)
        )
    if len(value.encode("utf-8")) > BCRYPT_MAX_BYTES:
        raise ValidationError(
            _(
                "Le mot de passe dépasse {max} octets (limite de bcrypt ; "
                "les lettres accentuées comptent double) : raccourcissez-le."
            ).format(max=BCRYPT_MAX_BYTES)
        )
    return value


def password_confirmation(password: str, confirmation: str) -> None:
    if password != confirmation:
        raise ValidationError(_("Les deux mots de passe ne sont pas identiques."))


def title(value: str) -> str:
    return _bounded(
        value.strip(),
        TITLE_MAX,
        _("Le titre est obligatoire."),
        _("Le titre est trop long ({n} caractères, {max} au plus)."),
        _("Le titre doit tenir sur une seule ligne."),
        _("Le titre ne peut pas contenir de caractères de contrôle (Échap, tabulation…)."),
    )


def search_text(value: str) -> str:
    """Text looked for in a list (may be empty: no filter), on one line, without controls."""
    value = value.strip()
    if _CONTROL.search(value) or any(ch in value for ch in "\u2028\u2029"):
        raise ValidationError(
            _("Le texte cherché ne peut pas contenir de caractères de contrôle (Échap, tabulation…).")
        )
    return value


def description(value: str) -> str:
    return _bounded(
        value.replace("\r\n", "\n").replace("\r", "\n").strip(),
        DESCRIPTION_MAX,
        _("La description est obligatoire."),
        _("La description est trop longue ({n} caractères, {max} au plus)."),
    )


def _message(value: str) -> str:
    """A multi-line text with its line endings made `\n` and its outer blanks removed."""
    return value.replace("\r\n", "\n").replace("\r", "\n").strip()


def reply(value: str) -> str:
    return _bounded(
        _message(value),
        MESSAGE_MAX,
        _("La réponse est obligatoire."),
        _("La réponse est trop longue ({n} caractères, {max} au plus)."),
    )


def note(value: str) -> str:
    return _bounded(
        _message(value),
        MESSAGE_MAX,
        _("La note est obligatoire."),
        _("La note est trop longue ({n} caractères, {max} au plus)."),
    )


def category_name(value: str) -> str:
    return _bounded(
        value.strip(),
        CATEGORY_MAX,
        _("Le nom de la catégorie est obligatoire."),
        _("Le nom de la catégorie est trop long ({n} caractères, {max} au plus)."),
        _("Le nom de la catégorie doit tenir sur une seule ligne."),
        _("Le nom de la catégorie ne peut pas contenir de caractères de contrôle (Échap, tabulation…)."),
    )


def place_name(value: str) -> str:
    return _bounded(
        value.strip(),
        PLACE_MAX,
        _("Le nom du lieu est obligatoire."),
        _("Le nom du lieu est trop long ({n} caractères, {max} au plus)."),
        _("Le nom du lieu doit tenir sur une seule ligne."),
        _("Le nom du lieu ne peut pas contenir de caractères de contrôle (Échap, tabulation…)."),
    )


def network(value: str) -> str:
    """A network in CIDR notation (`10.12.0.0/16`, `2001:db8::/32`), as `ipaddress` writes it;
    an address alone is its own network. Host bits set are refused: they hide a typing error."""
    text = value.strip()
    refused = _("Réseau invalide : écrivez-le comme 10.12.0.0/16 ou 2001:db8::/32.")
    if not text or len(text) > NETWORK_MAX or not re.fullmatch(r"[0-9A-Fa-f:./]+", text):
        raise ValidationError(refused)
    try:
        parsed = ipaddress.ip_network(text, strict=True)
    except ValueError:
        try:
            ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise ValidationError(refused) from None
        raise ValidationError(
            _("Réseau invalide : l'adresse a des bits après le préfixe (écrivez {net}).").format(
                net=ipaddress.ip_network(text, strict=False)
            )
        ) from None
    return str(parsed)


CANNED_TITLE_MAX = 80


def canned_title(value: str) -> str:
    return _bounded(
        value.strip(),
        CANNED_TITLE_MAX,
        _("Le titre de la réponse type est obligatoire."),
        _("Le titre de la réponse type est trop long ({n} caractères, {max} au plus)."),
        _("Le titre de la réponse type doit tenir sur une seule ligne."),
        _("Le titre de la réponse type ne peut pas contenir de caractères de contrôle (Échap, tabulation…)."),
    )


def canned_text(value: str) -> str:
    return _bounded(
        _message(value),
        MESSAGE_MAX,
        _("Le texte de la réponse type est obligatoire."),
        _("Le texte de la réponse type est trop long ({n} caractères, {max} au plus)."),
    )


def urgency(value: str) -> Urgency:
    try:
        return Urgency(value)
    except ValueError:
        raise ValidationError(_("Urgence inconnue : choisissez Faible, Moyenne ou Haute.")) from None


def status(value: str) -> Status:
    try:
        return Status(value)
    except ValueError:
        raise ValidationError(_("Statut inconnu : choisissez En attente, En cours ou Résolu.")) from None


RATING_COMMENT_MAX = 500


def rating(value: str | int) -> int:
    """A score of `Votre avis (1 à 5)`: a whole number from 1 to 5, no default."""
    text = str(value).strip()
    if not (text.isascii() and text.isdigit() and 1 <= int(text) <= 5):
        raise ValidationError(_("Votre avis est un chiffre de 1 à 5 (ou « p » pour passer)."))
    return int(text)


def rating_comment(value: str) -> str:
    """The optional comment of a rating (may be empty), on one line."""
    value = value.strip()
    if not value:
        return ""
    return _bounded(
        value,
        RATING_COMMENT_MAX,
        "",
        _("Le commentaire est trop long ({n} caractères, {max} au plus)."),
        _("Le commentaire doit tenir sur une seule ligne."),
        _("Le commentaire ne peut pas contenir de caractères de contrôle (Échap, tabulation…)."),
    )
