"""Every input rule, with the exact French sentence the user reads when it refuses."""

from __future__ import annotations

import pytest

from server.domain import validation
from server.domain.models import Status, Urgency
from server.errors import ValidationError

EMAIL_INVALID = "Adresse e-mail invalide (exemple : prenom.nom@exemple.org)."
PASSWORD_TOO_LONG = (
    "Le mot de passe dépasse 72 octets (limite de bcrypt ; "
    "les lettres accentuées comptent double) : raccourcissez-le."
)


def refused(rule, *args) -> str:
    """The message a rule gives when it refuses its input."""
    with pytest.raises(ValidationError) as info:
        rule(*args)
    return info.value.message


# E-mail ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("alice@example.org", "alice@example.org"),
        ("Aissatou.Diop@Example.ORG", "aissatou.diop@example.org"),
        ("  moussa.fall@simplon.sn  ", "moussa.fall@simplon.sn"),
        ("prenom+support@campus.unchk.edu.sn", "prenom+support@campus.unchk.edu.sn"),
        ("o'neil_42@mail-serveur.co", "o'neil_42@mail-serveur.co"),
        ("A@B.CD", "a@b.cd"),
    ],
)
def test_email_accepted_and_lower_cased(typed, stored):
    assert validation.email(typed) == stored


@pytest.mark.parametrize(
    "typed",
    [
        "alice",
        "alice@",
        "@example.org",
        "alice@example",
        "alice@@example.org",
        "alice@example..org",
        "alice@.example.org",
        "alice@-example.org",
        "alice@example-.org",
        "alice@exa_mple.org",
        "alice@example.o",
        "alice@example.123",
        ".alice@example.org",
        "alice.@example.org",
        "ali..ce@example.org",
        "alice dupont@example.org",
        "alice@example.org\nbob@example.org",
        "alice@example.org\x1b[2J",
        "<alice@example.org>",
        "a" * 243 + "@example.org",  # 255 characters
    ],
)
def test_email_refused(typed):
    assert refused(validation.email, typed) == EMAIL_INVALID


def test_email_at_maximum_length_accepted():
    address = "a" * 242 + "@example.org"
    assert len(address) == 254
    assert validation.email(address) == address


@pytest.mark.parametrize("typed", ["", "   ", "\t"])
def test_email_required(typed):
    assert refused(validation.email, typed) == "L'e-mail est obligatoire."


# Name -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "kept"),
    [("A", "A"), ("  Aïssatou Diop  ", "Aïssatou Diop"), ("é" * 80, "é" * 80), ("x" * 80, "x" * 80)],
)
def test_name_accepted(typed, kept):
    assert validation.name(typed) == kept


def test_name_too_long():
    assert refused(validation.name, "x" * 81) == "Le nom est trop long (81 caractères, 80 au plus)."


@pytest.mark.parametrize("typed", ["", "   ", "\n"])
def test_name_required(typed):
    assert refused(validation.name, typed) == "Le nom est obligatoire."


@pytest.mark.parametrize("typed", ["Alice\nNdiaye", "Alice\rNdiaye", "Alice\u2028Ndiaye"])
def test_name_on_one_line(typed):
    assert refused(validation.name, typed) == "Le nom doit tenir sur une seule ligne."


NAME_CONTROL = "Le nom ne peut pas contenir de caractères de contrôle (Échap, tabulation…)."
TITLE_CONTROL = "Le titre ne peut pas contenir de caractères de contrôle (Échap, tabulation…)."
CONTROLS = ["Awa\x1b]0;PWNED\x07", "a\x07b", "a\x00b", "a\tb", "a\x7fb", "a\x9bb", "a\x85b", "a\x1fb"]


@pytest.mark.parametrize("typed", CONTROLS)
def test_name_refuses_control_characters(typed):
    assert refused(validation.name, typed) == NAME_CONTROL


@pytest.mark.parametrize("typed", ["Awa Diop-Ndiaye", "Éloïse d'Almeida", "Ngọc Ánh", "李小龙", "A\u00a0B"])
def test_name_keeps_printable_characters(typed):
    assert validation.name(typed) == typed


SEARCH_CONTROL = "Le texte cherché ne peut pas contenir de caractères de contrôle (Échap, tabulation…)."


@pytest.mark.parametrize("typed", [*CONTROLS, "a\u2028b"])
def test_search_text_refuses_control_characters(typed):
    assert refused(validation.search_text, typed) == SEARCH_CONTROL


@pytest.mark.parametrize("typed", ["", "  ", "imprimante", "Éloïse d'Almeida", "李小龙"])
def test_search_text_may_be_empty_or_any_printable_text(typed):
    assert validation.search_text(typed) == typed.strip()


# Password -------------------------------------------------------------------------------


@pytest.mark.parametrize("typed", ["", "court", "7chars!", "ééééééé"])
def test_password_too_short(typed):
    assert refused(validation.new_password, typed) == "Le mot de passe doit faire au moins 8 caractères."


@pytest.mark.parametrize("typed", ["8chars!!", "x" * 72, "é" * 36, "🔌" * 18])
def test_password_accepted_up_to_72_bytes(typed):
    assert len(typed.encode("utf-8")) <= 72
    assert validation.new_password(typed) == typed


@pytest.mark.parametrize("typed", ["x" * 73, "é" * 37, "🔌" * 19, "é" * 36 + "x"])
def test_password_over_72_bytes_refused(typed):
    assert len(typed.encode("utf-8")) > 72
    assert refused(validation.new_password, typed) == PASSWORD_TOO_LONG


def test_password_counts_bytes_not_characters():
    # 37 characters (well under 72) but 74 bytes once encoded.
    typed = "é" * 37
    assert len(typed) == 37 and len(typed.encode("utf-8")) == 74
    assert refused(validation.new_password, typed) == PASSWORD_TOO_LONG


def test_password_confirmation():
    validation.password_confirmation("motdepasse-solide", "motdepasse-solide")
    assert (
        refused(validation.password_confirmation, "motdepasse-solide", "motdepasse-solidE")
        == "Les deux mots de passe ne sont pas identiques."
    )


# Title ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "kept"),
    [("X", "X"), ("  Mon chargeur ne marche plus ", "Mon chargeur ne marche plus"), ("t" * 120, "t" * 120)],
)
def test_title_accepted(typed, kept):
    assert validation.title(typed) == kept


def test_title_too_long():
    assert refused(validation.title, "t" * 121) == "Le titre est trop long (121 caractères, 120 au plus)."


@pytest.mark.parametrize("typed", ["", "    "])
def test_title_required(typed):
    assert refused(validation.title, typed) == "Le titre est obligatoire."


@pytest.mark.parametrize("typed", ["ligne 1\nligne 2", "ligne 1\r\nligne 2", "a\u2029b"])
def test_title_on_one_line(typed):
    assert refused(validation.title, typed) == "Le titre doit tenir sur une seule ligne."


@pytest.mark.parametrize("typed", CONTROLS)
def test_title_refuses_control_characters(typed):
    assert refused(validation.title, typed) == TITLE_CONTROL


def test_multi_line_texts_keep_their_sanitising_not_a_refusal():
    # Replies and descriptions keep newlines and tabs; the terminal sanitiser shows the rest.
    assert validation.reply("ligne 1\n\tligne 2") == "ligne 1\n\tligne 2"
    assert validation.description("a\x1bb") == "a\x1bb"


# Description ----------------------------------------------------------------------------


def test_description_multi_line_and_crlf_normalised():
    assert validation.description("ligne 1\r\nligne 2\rligne 3\nfin\n") == "ligne 1\nligne 2\nligne 3\nfin"


def test_description_length_limits():
    assert validation.description("d" * 4000) == "d" * 4000
    assert (
        refused(validation.description, "d" * 4001)
        == "La description est trop longue (4001 caractères, 4000 au plus)."
    )


def test_description_length_counted_after_normalising_line_ends():
    typed = "d" * 1999 + "\r\n" + "d" * 2000  # 4001 characters typed, 4000 once normalised
    assert len(typed) == 4001
    assert validation.description(typed) == "d" * 1999 + "\n" + "d" * 2000


@pytest.mark.parametrize("typed", ["", "  \n\r\n  "])
def test_description_required(typed):
    assert refused(validation.description, typed) == "La description est obligatoire."


# Urgency and status ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "value"), [("Faible", Urgency.LOW), ("Moyenne", Urgency.MEDIUM), ("Haute", Urgency.HIGH)]
)
def test_urgency_from_its_list(typed, value):
    assert validation.urgency(typed) is value
    assert validation.urgency(value) is value


@pytest.mark.parametrize("typed", ["", "faible", "HAUTE", "Urgente", "Basse", "1"])
def test_urgency_outside_its_list(typed):
    assert refused(validation.urgency, typed) == "Urgence inconnue : choisissez Faible, Moyenne ou Haute."


@pytest.mark.parametrize(
    ("typed", "value"),
    [("En attente", Status.WAITING), ("En cours", Status.IN_PROGRESS), ("Résolu", Status.RESOLVED)],
)
def test_status_from_its_list(typed, value):
    assert validation.status(typed) is value
    assert validation.status(value) is value


@pytest.mark.parametrize("typed", ["", "Fermée", "Resolu", "en cours", "Haute", "2"])
def test_status_outside_its_list(typed):
    assert refused(validation.status, typed) == "Statut inconnu : choisissez En attente, En cours ou Résolu."


def test_networks_are_cidr_as_ipaddress_writes_them():
    assert validation.network(" 10.12.0.0/16 ") == "10.12.0.0/16"
    assert validation.network("192.168.4.7") == "192.168.4.7/32"
    assert validation.network("2001:DB8::/32") == "2001:db8::/32"
    for hostile in ("", "10.0.0.0/33", "salle 12", "10.0.0.0/8\x1b[2J", "1" * 60, "::ffff:zz/64"):
        with pytest.raises(ValidationError) as refused:
            validation.network(hostile)
        assert refused.value.message == "Réseau invalide : écrivez-le comme 10.12.0.0/16 ou 2001:db8::/32."
    with pytest.raises(ValidationError) as refused:
        validation.network("10.1.2.3/8")
    assert "écrivez 10.0.0.0/8" in refused.value.message


def test_a_client_address_gives_its_ip_and_the_most_specific_network_wins():
    from server.context.places import client_ip, most_specific

    assert str(client_ip("10.1.2.3:51000")) == "10.1.2.3"
    assert str(client_ip("2001:db8::5:51000")) == "2001:db8::5"
    assert str(client_ip("::ffff:10.1.2.3:51000")) == "10.1.2.3"
    assert client_ip("-") is None
    networks = [("10.0.0.0/8", 1, "Campus"), ("10.1.0.0/16", 2, "Bâtiment B"), ("2001:db8::/32", 3, "v6")]
    assert most_specific(client_ip("10.1.2.3:1"), networks) == (2, "Bâtiment B")
    assert most_specific(client_ip("10.9.2.3:1"), networks) == (1, "Campus")
    assert most_specific(client_ip("192.168.1.1:1"), networks) is None
