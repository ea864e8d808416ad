"""The rooms' rules, read from the code with `ast`: who may import the store, write history,
decide access."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SERVER = Path(__file__).resolve().parent.parent / "server"


def _modules() -> dict[str, ast.Module]:
    return {
        path.relative_to(SERVER.parent).as_posix(): ast.parse(path.read_text(encoding="utf-8"))
        for path in sorted(SERVER.rglob("*.py"))
    }


MODULES = _modules()


def _package(path: str) -> list[str]:
    """`server/handlers/x.py` -> ["server", "handlers"]: where relative imports start."""
    parts = path.removesuffix(".py").split("/")
    return parts[:-1]


def imported(path: str, tree: ast.Module) -> set[str]:
    """Every module `path` imports, absolute and dotted ("server.store.history", "sqlalchemy")."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = _package(path)[: len(_package(path)) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.add(module)
            # `from ..store import history`: the submodule may be what is imported.
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def _in(path: str, *rooms: str) -> bool:
    return any(path.startswith(f"server/{room}/") for room in rooms)


def test_the_module_reader_sees_the_imports_it_must_judge():
    """An anchor: the reader finds what is known to be there, so the rules below can fail."""
    assert "server.store.history" in imported(
        "server/context/session.py", MODULES["server/context/session.py"]
    )
    assert "server.context" in imported("server/handlers/users.py", MODULES["server/handlers/users.py"])
    assert "sqlalchemy" in imported("server/store/ddl.py", MODULES["server/store/ddl.py"])
    assert len([p for p in MODULES if _in(p, "handlers", "ui")]) >= 10


@pytest.mark.parametrize("path", [p for p in MODULES if _in(p, "handlers", "ui")])
def test_handlers_and_ui_never_touch_the_store_or_sqlalchemy(path):
    bad = {
        m
        for m in imported(path, MODULES[path])
        if m.split(".")[0] == "sqlalchemy" or m == "server.store" or m.startswith("server.store.")
    }
    assert not bad, f"{path} imports {sorted(bad)}: screens go through the SessionContext"


def test_only_the_store_writes_sql():
    """Outside the store, SQLAlchemy gives names only: the connection type the store's functions
    take, the integrity error of a unique index, the URL parser. No `sa.select` anywhere else."""
    names = {"AsyncConnection", "IntegrityError", "make_url"}
    for path, tree in MODULES.items():
        if _in(path, "store"):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                assert not [a.name for a in node.names if a.name.split(".")[0] == "sqlalchemy"], path
            elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "sqlalchemy":
                assert {a.name for a in node.names} <= names, f"{path} imports {node.module}"


def _calls(tree: ast.Module, name: str) -> list[ast.Call]:
    """Calls of `name(...)` or `something.name(...)`."""
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and (
            (isinstance(node.func, ast.Name) and node.func.id == name)
            or (isinstance(node.func, ast.Attribute) and node.func.attr == name)
        )
    ]


def test_only_the_context_writes_history():
    writers = {p for p, tree in MODULES.items() if "server.store.history" in imported(p, tree)}
    assert writers and all(_in(p, "context") for p in writers), writers
    # In the context, one method writes: SessionContext._write_history.
    inserts = {p for p, tree in MODULES.items() if _in(p, "context") and _calls(tree, "insert")}
    entries = {
        p
        for p, tree in MODULES.items()
        if any(isinstance(n, ast.Attribute) and n.attr == "Entry" for n in ast.walk(tree))
    }
    assert entries == {"server/context/session.py"}, entries
    # The table itself is inserted into by store/history.py alone.
    for path, tree in MODULES.items():
        for call in _calls(tree, "insert"):
            target = call.func.value if isinstance(call.func, ast.Attribute) else None
            if isinstance(target, ast.Name) and target.id == "history":
                assert path == "server/store/history.py", f"{path} inserts into historique"
    assert inserts  # the reader found the context's inserts of other rows (accounts, keys…)


def test_one_function_decides_access():
    """`access_allowed` is called once (the door's `allowed`); roles are read by it alone."""
    callers = [(p, c.lineno) for p, tree in MODULES.items() for c in _calls(tree, "access_allowed")]
    assert [p for p, _ in callers] == ["server/context/session.py"], callers
    # The role shown on screen (a label, not a decision) is read in these two handlers.
    labels = {"server/handlers/profile.py", "server/handlers/users.py"}
    readers = {
        p
        for p, tree in MODULES.items()
        if any(isinstance(n, ast.Attribute) and n.attr == "is_admin" for n in ast.walk(tree))
    }
    assert readers - labels == {"server/domain/access.py"}, readers


def _names(tree: ast.Module) -> set[str]:
    """Every name a module uses or imports (`x`, `module.x`, `from m import x`)."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            found.add(node.id)
        elif isinstance(node, ast.Attribute):
            found.add(node.attr)
        elif isinstance(node, ast.ImportFrom):
            found.update(alias.name for alias in node.names)
    return found


def test_text_reaches_the_screen_through_one_control():
    """Only ui/text.py makes text controls (its SafeTextControl sanitises every fragment) and
    ui/terminal.py prints (a sanitised banner); nothing else builds prompt_toolkit text that
    would pass escapes through."""
    raw = {"FormattedTextControl", "print_formatted_text", "ANSI", "HTML", "print_container"}
    allowed = {
        "server/ui/text.py": {"FormattedTextControl"},
        "server/ui/terminal.py": {"print_formatted_text"},
    }
    for path, tree in MODULES.items():
        used = raw & _names(tree) - allowed.get(path, set())
        assert not used, f"{path} uses {sorted(used)}: draw through ui/text.py"


@pytest.mark.parametrize("path", [p for p in MODULES if _in(p, "handlers")])
def test_handlers_draw_through_the_ui_only(path):
    """A handler gives the UI plain text or fragments; it builds no prompt_toolkit control."""
    allowed = {"prompt_toolkit.formatted_text", "prompt_toolkit.utils"}
    toolkit = {m for m in imported(path, MODULES[path]) if m.split(".")[0] == "prompt_toolkit"}
    assert {m.rsplit(".", 1)[0] if m not in allowed else m for m in toolkit} <= allowed, toolkit


def test_one_definition_of_safe_text():
    definers = [
        p
        for p, tree in MODULES.items()
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef) and node.name == "safe_text"
    ]
    assert definers == ["server/domain/text.py"], definers
    # The screens use the UI's builders; only the commands' plain output calls it directly.
    users = {p for p, tree in MODULES.items() if "safe_text" in _names(tree)}
    assert users - {"server/domain/text.py", "server/ui/text.py", "server/ui/terminal.py"} <= {
        p for p in MODULES if _in(p, "commands")
    }, users


@pytest.mark.parametrize("path", [p for p in MODULES if _in(p, "transport")])
def test_transport_knows_nothing_about_tickets(path):
    """SSH only: the data, the screens and the commands are handed in by app.py."""
    rooms = ("server.store", "server.context", "server.handlers", "server.ui", "server.commands")
    bad = {m for m in imported(path, MODULES[path]) if m.startswith(rooms) or m == "sqlalchemy"}
    assert not bad, f"{path} imports {sorted(bad)}"


def test_handlers_know_nothing_about_ssh():
    for path in [p for p in MODULES if _in(p, "handlers", "ui")]:
        bad = {
            m for m in imported(path, MODULES[path]) if m.startswith("server.transport") or m == "asyncssh"
        }
        assert not bad, f"{path} imports {sorted(bad)}"


# A module is read whole by whoever changes it: past this, it holds more than one job.
MODULE_MAX_LINES = 400


def test_no_module_of_the_server_passes_400_lines():
    long = {
        path.relative_to(SERVER.parent).as_posix(): n
        for path in sorted(SERVER.rglob("*.py"))
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MODULE_MAX_LINES
    }
    assert not long, f"over {MODULE_MAX_LINES} lines, split along a seam: {long}"
