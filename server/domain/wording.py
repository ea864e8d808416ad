"""The sentence of a ticket's history entry, in the session's language: written once, for the
ticket's screen and for the mail that reports it."""

from __future__ import annotations

from datetime import datetime

from ..i18n import _
from .models import Action, HistoryEntry


def when(moment: datetime) -> str:
    return moment.strftime("%d/%m/%Y %H:%M")


def describe(entry: HistoryEntry) -> str:
    """One history entry as a sentence."""
    moment = when(entry.created_at)
    match entry.action:
        case Action.CREATED:
            what = _("ticket créé ({status}, urgence {urgency})").format(
                status=entry.new_status.label if entry.new_status else "",
                urgency=_(entry.details) if entry.details else "",
            )
        case Action.STATUS_CHANGED:
            what = _("statut : {old} → {new}").format(
                old=entry.old_status.label if entry.old_status else "?",
                new=entry.new_status.label if entry.new_status else "?",
            )
        case Action.REPLY:
            what = _("réponse :")
        case Action.NOTE:
            what = _("note interne (invisible du demandeur) :")
        case Action.ASSIGNED:
            what = (
                _("assigné à {name}").format(name=entry.details)
                if entry.details
                else _("assignation retirée")
            )
        case Action.CATEGORY_ASSIGNED:
            what = _("pris en charge par {name}, assigné par défaut de la catégorie").format(
                name=entry.details
            )
        case Action.CATEGORY_CHANGED:
            what = _("catégorie : {change}").format(change=entry.details)
        case Action.REOPENED:
            what = _("le problème persiste : {old} → {new}").format(
                old=entry.old_status.label if entry.old_status else "?",
                new=entry.new_status.label if entry.new_status else "?",
            )
        case Action.PLACE_CHANGED:
            what = _("lieu : {change}").format(change=entry.details)
        case Action.ATTACHED:
            what = _("pièce jointe ajoutée : {name}").format(name=entry.details or "")
        case Action.AUTO_CLOSED:
            # The service's doing, not an account's: no name before it.
            return _("{at}  fermé automatiquement : {old} → {new}, sans réponse depuis {days} jours").format(
                at=moment,
                old=entry.old_status.label if entry.old_status else "?",
                new=entry.new_status.label if entry.new_status else "?",
                days=entry.details,
            )
        case Action.RATED:
            what = _("avis du demandeur : {score}/5").format(score=entry.details)
        case Action.ATTACHMENT_DELETED:
            what = _("pièce jointe supprimée : {name}").format(name=entry.details or "")
        case _:
            what = entry.action.value
    return f"{moment}  {entry.actor_name} — {what}"
