"""Rules for what users type: one clear French sentence for each refusal."""

from __future__ import annotations

import re

from .errors import ValidationError
from .i18n import _
from .models import Status, Urgency
from .security import BCRYPT_MAX_BYTES

NAME_MAX = 80
EMAIL_MAX = 254
PASSWORD_MIN = 8
TITLE_MAX = 120
DESCRIPTION_MAX = 4000

# Pragmatic address syntax: local part of common characters, a dotted domain with a TLD.
_EMAIL = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@([A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)


def _one_line(value: str, what: str) -> None:
    if any(ch in value for ch in "\r\n\u2028\u2029"):
        raise ValidationError(_("{what} doit tenir sur une seule ligne.").format(what=what))


def name(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValidationError(_("Le nom est obligatoire."))
    if len(value) > NAME_MAX:
        raise ValidationError(
            _("Le nom est trop long ({n} caractères, {max} au plus).").format(n=len(value), max=NAME_MAX)
        )
    _one_line(value, _("Le nom"))
    return value


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
    value = value.strip()
    if not value:
        raise ValidationError(_("Le titre est obligatoire."))
    if len(value) > TITLE_MAX:
        raise ValidationError(
            _("Le titre est trop long ({n} caractères, {max} au plus).").format(n=len(value), max=TITLE_MAX)
        )
    _one_line(value, _("Le titre"))
    return value


def description(value: str) -> str:
    value = value.replace("\r\n", "\n").replace("\r", "\n").strip()
    if not value:
        raise ValidationError(_("La description est obligatoire."))
    if len(value) > DESCRIPTION_MAX:
        raise ValidationError(
            _("La description est trop longue ({n} caractères, {max} au plus).").format(
                n=len(value), max=DESCRIPTION_MAX
            )
        )
    return value


def urgency(value: str) -> Urgency:
    try:
        return Urgency(value)
    except ValueError:
        raise ValidationError(_("Urgence inconnue : choisissez Faible, Moyenne ou Haute.")) from None


def status(value: str) -> Status:
    try:
        return Status(value)
    except ValueError:
        raise ValidationError(
            _("Statut inconnu : choisissez En attente, En cours ou Résolu.")
        ) from None
