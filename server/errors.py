"""Errors a user may meet: each carries the one sentence shown on screen, in the session's language."""

from __future__ import annotations

import math

from .i18n import N_, _


class ConfigError(Exception):
    """A setting is missing, malformed or out of range."""


class UserError(Exception):
    """Refused or failed action; `message` is shown to the user as is."""

    default = N_("L'action n'a pas pu aboutir.")

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or _(self.default))

    @property
    def message(self) -> str:
        return str(self.args[0])


class ValidationError(UserError):
    """Input refused by a rule; nothing was written."""


class EmailTaken(ValidationError):
    default = N_("Un compte existe déjà avec cet e-mail.")


class NotFound(UserError):
    """Missing ticket, or one the user may not see: the same answer for both."""

    default = N_("Ticket introuvable.")


class Forbidden(UserError):
    default = N_("Action réservée aux administrateurs.")


class AuthFailed(UserError):
    """Wrong e-mail or password: one message for both, so accounts can't be guessed."""

    default = N_("E-mail ou mot de passe incorrect.")


class DatabaseUnavailable(UserError):
    """The database could not be reached, no pooled connection was free in time, or a lock or
    a statement outlasted its bound; the transaction was rolled back.

    `reason` names which, for the log: "unreachable", "pool exhausted", "lock wait timeout",
    "statement timeout", "deadlock".
    """

    default = N_("La base de données est momentanément indisponible : réessayez dans un instant.")

    def __init__(self, message: str | None = None, reason: str = "unreachable") -> None:
        super().__init__(message)
        self.reason = reason


class ServiceRestarting(UserError):
    """The service is stopping: a write not yet started is refused, nothing was written."""

    default = N_("Le service redémarre : votre saisie est conservée, réessayez dans un instant.")


class AccountDeleted(UserError):
    """The session's account was deleted by an admin while it was connected."""

    default = N_("Votre compte a été supprimé.")


class UserNotFound(UserError):
    default = N_("Utilisateur introuvable.")


class KeyNotFound(UserError):
    """A key that is missing or someone else's: the same answer for both."""

    default = N_("Clé introuvable.")


class Throttled(UserError):
    """Too many failed logins for this account or address: refused before any password check."""

    def __init__(self, wait: int) -> None:
        self.wait = wait
        super().__init__(
            _("Trop de tentatives : réessayez dans 1 seconde.")
            if wait == 1
            else _("Trop de tentatives : réessayez dans {n} secondes.").format(n=wait)
        )


class CodesThrottled(Throttled):
    """Too many verification codes mailed lately for this account or from this address."""

    def __init__(self, wait: int) -> None:
        super().__init__(wait)
        self.args = (
            _("Trop de codes envoyés : réessayez dans 1 seconde.")
            if wait == 1
            else _("Trop de codes envoyés : réessayez dans {n} secondes.").format(n=wait),
        )


class TooManyAccounts(UserError):
    """Too many accounts created from this address lately."""

    def __init__(self, wait: int) -> None:
        self.wait = wait
        minutes = max(1, math.ceil(wait / 60))
        super().__init__(
            _("Trop de comptes créés depuis cette adresse : réessayez dans {n} minute(s).").format(n=minutes)
        )
