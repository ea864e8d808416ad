"""The README's `--json` examples (Scripts): each ```console block's `$ ssh … campus COMMAND`
is run with the real OpenSSH client against the real server, and what it prints must have the
example's shape: the same keys in the same order, the same kinds of values, all the way down."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from .conftest import context_for
from .sshcommand import ssh_command

README = Path(__file__).resolve().parent.parent / "README.md"
# The README's people, as the tests have them.
PEOPLE = {"awa@campus.sn": "alice@example.org", "admin@campus.sn": "admin@example.org"}


def examples() -> list[tuple[str, list[str], object]]:
    """(e-mail, command words, the JSON shown) of each example of the Scripts section."""
    scripts = README.read_text(encoding="utf-8").split("## Scripts", 1)[1].split("\n## ", 1)[0]
    found = []
    for block in scripts.split("```console\n")[1:]:
        first, rest = block.split("```", 1)[0].split("\n", 1)
        words = shlex.split(first.removeprefix("$ "))
        email = words[words.index("-l") + 1]
        found.append((email, words[words.index("campus") + 1 :], json.loads(rest)))
    return found


def shape(value: object) -> object:
    if isinstance(value, dict):
        return [(key, shape(v)) for key, v in value.items()]
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__


def test_the_readme_shows_a_json_example_of_each_command():
    # `tickets list --json` is the ```json block that tests/test_e2e_commands.py checks.
    named = {" ".join(w for w in words[:2] if not w.startswith("-")) for _email, words, _json in examples()}
    assert named | {"tickets list"} == {"whoami", "tickets list", "tickets show", "export", "users list"}, (
        named
    )


@pytest.mark.usefixtures("alice")
async def test_each_readme_json_example_is_what_its_command_prints(service, services, admin):
    staff = context_for(services, admin)
    place = await staff.add_place("Bâtiment B — salle 12")
    await staff.add_network(place.id, "127.0.0.0/8")
    learner, agent = PEOPLE["awa@campus.sn"], PEOPLE["admin@campus.sn"]
    r = await ssh_command(
        service.port, learner, "tickets", "new", "--title", "Imprimante bloquée", "--urgency", "Haute",
        "--category", "matériel", stdin=b"Bourrage.",
    )  # fmt: skip
    assert r.status == 0, r.err
    await ssh_command(service.port, agent, "tickets", "assign", "1", "me")
    await ssh_command(service.port, agent, "tickets", "status", "1", "En", "cours")
    await ssh_command(service.port, agent, "tickets", "reply", "1", stdin=b"Je passe en salle 12.")
    for email, words, example in examples():
        # The README's ticket (#12) is the test's first one.
        words = ["1" if w.isdigit() else w for w in words]
        r = await ssh_command(service.port, PEOPLE[email], *words)
        assert r.status == 0, (words, r.err)
        assert shape(json.loads(r.out)) == shape(example), (words, r.out)
