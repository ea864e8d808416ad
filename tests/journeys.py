"""What a person types on the common paths, shared by the end-to-end tests."""

from __future__ import annotations

from .conftest import until
from .sshclient import CTRL_D, ENTER, ESC, ScreenReader

URGENCY_KEYS = {"Faible": "1", "Moyenne": "2", "Haute": "3"}
# The categories a new database holds, by their key in `Nouveau ticket`'s menu.
CATEGORY_KEYS = {
    "Matériel": "1",
    "Accès à la plateforme": "2",
    "Réseau / Wi-Fi": "3",
    "Salles et vidéoprojecteurs": "4",
    "Logiciels": "5",
    "Compte et mot de passe": "6",
    "Autre": "7",
}

# What the requester of a resolved ticket is asked once (handlers/survey.py).
RATING_QUESTION = "Votre avis (1 à 5)"


async def pass_ratings(
    c: ScreenReader, home: str = "1. Nouveau ticket", question: str = RATING_QUESTION
) -> None:
    """Wait for `home`, passing with Esc each `Votre avis` asked on the way (at login, or on a
    ticket resolved meanwhile)."""
    await until(lambda: home in c.text() or question in c.text(), 15)
    while question in c.text():
        title = c.text().splitlines()[0]
        c.send(ESC)
        await until(lambda title=title: c.text().splitlines()[0] != title, 15)
    await c.wait_for(home)


async def pick_category(c: ScreenReader, category: str = "Autre") -> None:
    """`Catégorie` of `Nouveau ticket`, once the title is typed."""
    await c.wait_for("Catégorie :", "7. Autre")
    c.send(CATEGORY_KEYS[category])


async def login_in_app(c: ScreenReader, email: str, password: str) -> None:
    """From the welcome menu, `Se connecter` with these credentials (the answer is the caller's)."""
    await c.wait_for("1. Se connecter")
    c.send("1")
    await c.wait_for("E-mail :")
    c.send(email + ENTER)
    await c.wait_for("Mot de passe :")
    c.send(password + ENTER)


async def register_in_app(c: ScreenReader, name: str, email: str, password: str) -> None:
    """From the welcome menu, `Créer un compte` with the password typed twice."""
    await c.wait_for("2. Créer un compte")
    c.send("2")
    await c.wait_for("Nom :")
    c.send(name + ENTER)
    await c.wait_for("E-mail :")
    c.send(email + ENTER)
    await c.wait_for("Mot de passe :")
    c.send(password + ENTER)
    await c.wait_for("Confirmation :")
    c.send(password + ENTER)


async def file_ticket(
    c: ScreenReader,
    title: str,
    description: str,
    urgency: str = "Moyenne",
    *,
    paste: bool = False,
    category: str = "Autre",
) -> None:
    """From the main menu, `Nouveau ticket`: title, category, description ended by Ctrl-D, urgency."""
    c.send("1")
    await c.wait_for("Titre :")
    c.paste(title) if paste else c.send(title)  # type: ignore[attr-defined]
    c.send(ENTER)
    await pick_category(c, category)
    await c.wait_for("Description :")
    c.paste(description) if paste else c.send(description)  # type: ignore[attr-defined]
    c.send(CTRL_D)
    await c.wait_for("1. Faible", "2. Moyenne", "3. Haute")
    c.send(URGENCY_KEYS[urgency])
