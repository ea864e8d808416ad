"""Settings: class defaults <- config.yaml <- SUPPORT_* environment, and French errors for bad values."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
import yaml

from server.config import DEFAULT_CONFIG_FILE, PROJECT_ROOT, ConfigError, Settings, load_settings


def write_config(folder: Path, text: str) -> Path:
    path = folder / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def setting_names() -> dict[str, list[str]]:
    """{section: [key, …]} for every setting of the dataclasses."""
    return {
        section.name: [f.name for f in dataclasses.fields(section.default_factory())]
        for section in dataclasses.fields(Settings)
        if section.name != "base_dir"
    }


# Defaults and the shipped file ----------------------------------------------------------


def test_shipped_config_file_is_the_default_one():
    assert DEFAULT_CONFIG_FILE == PROJECT_ROOT / "config.yaml"
    assert DEFAULT_CONFIG_FILE.exists()


def test_defaults_equal_what_config_yaml_says():
    documented = yaml.safe_load(DEFAULT_CONFIG_FILE.read_text(encoding="utf-8"))
    assert Settings().sections() == documented
    assert load_settings(env={}).sections() == documented


def test_no_file_gives_the_class_defaults(tmp_path):
    settings = load_settings(config_file=tmp_path / "absent.yaml", env={})
    assert settings.sections() == Settings().sections()
    assert settings.ssh.port == 2222 and settings.ssh.guest_user == "support"
    assert settings.security.bcrypt_cost == 12
    # No URL: the embedded SQLite file, next to the (absent) config file.
    assert settings.database_url == f"sqlite+aiosqlite:///{tmp_path / 'data' / 'support.db'}"


def test_config_yaml_documents_every_setting():
    lines = DEFAULT_CONFIG_FILE.read_text(encoding="utf-8").splitlines()
    for section, keys in setting_names().items():
        assert f"{section}:" in lines, f"section {section} missing from config.yaml"
        start = lines.index(f"{section}:")
        end = next((i for i in range(start + 1, len(lines)) if re.match(r"\S", lines[i])), len(lines))
        body = lines[start + 1 : end]
        for key in keys:
            at = [i for i, line in enumerate(body) if re.match(rf"\s+{key}:", line)]
            assert len(at) == 1, f"{section}.{key} missing from config.yaml"
            above = body[at[0] - 1].strip() if at[0] > 0 else ""
            assert above.startswith("#") and len(above) > 2, f"{section}.{key} has no comment above it"


# The file is read -----------------------------------------------------------------------


CUSTOM = """\
ssh:
  host: "127.0.0.1"
  port: 2022
  guest_user: "aide"
database:
  url: "mysql+aiomysql://support_app:secret@db.campus:3306/suivi_incident"
  pool_size: 4
  create_schema: false
security:
  bcrypt_cost: 10
log:
  level: "DEBUG"
"""


def test_values_come_from_the_file(tmp_path):
    settings = load_settings(config_file=write_config(tmp_path, CUSTOM), env={})
    assert settings.ssh.host == "127.0.0.1"
    assert settings.ssh.port == 2022
    assert settings.ssh.guest_user == "aide"
    assert settings.database.url == "mysql+aiomysql://support_app:secret@db.campus:3306/suivi_incident"
    assert settings.database_url == settings.database.url
    assert settings.database.pool_size == 4
    assert settings.database.create_schema is False
    assert settings.security.bcrypt_cost == 10
    assert settings.log.level == "DEBUG"
    # What the file does not say keeps its default.
    assert settings.ssh.max_connections == 5000
    assert settings.database.pool_recycle == 1800


def test_relative_paths_are_relative_to_the_config_file(tmp_path):
    folder = tmp_path / "etc"
    folder.mkdir()
    path = write_config(folder, 'ssh:\n  host_keys_dir: "cles"\ndatabase:\n  sqlite_path: "base/t.db"\n')
    settings = load_settings(config_file=path, env={})
    assert settings.base_dir == folder.resolve()
    assert settings.host_keys_dir == folder.resolve() / "cles"
    assert settings.database_url == f"sqlite+aiosqlite:///{folder.resolve() / 'base' / 't.db'}"


def test_empty_file_gives_defaults(tmp_path):
    settings = load_settings(config_file=write_config(tmp_path, "# rien\n"), env={})
    assert settings.sections() == Settings().sections()


def test_support_config_variable_chooses_the_file(tmp_path):
    path = write_config(tmp_path, "ssh:\n  port: 2323\n")
    assert load_settings(env={"SUPPORT_CONFIG": str(path)}).ssh.port == 2323


# Environment overrides ------------------------------------------------------------------


def test_environment_wins_over_the_file(tmp_path):
    path = write_config(tmp_path, CUSTOM)
    env = {
        "SUPPORT_DATABASE_URL": "sqlite+aiosqlite:////var/lib/support/t.db",
        "SUPPORT_SSH_PORT": "2200",
        "SUPPORT_SSH_HOST": "::",
        "SUPPORT_SSH_GUEST_USER": "helpdesk",
        "SUPPORT_SECURITY_BCRYPT_COST": "13",
        "SUPPORT_DATABASE_CREATE_SCHEMA": "oui",
        "SUPPORT_LOG_LEVEL": "WARNING",
    }
    settings = load_settings(config_file=path, env=env)
    assert settings.database.url == "sqlite+aiosqlite:////var/lib/support/t.db"
    assert settings.database_url == "sqlite+aiosqlite:////var/lib/support/t.db"
    assert settings.ssh.port == 2200
    assert settings.ssh.host == "::"
    assert settings.ssh.guest_user == "helpdesk"
    assert settings.security.bcrypt_cost == 13
    assert settings.database.create_schema is True
    assert settings.log.level == "WARNING"
    # Not overridden: still the file's value.
    assert settings.database.pool_size == 4


def test_environment_overrides_defaults_without_a_file(tmp_path):
    settings = load_settings(config_file=tmp_path / "absent.yaml", env={"SUPPORT_SSH_PORT": " 2201 "})
    assert settings.ssh.port == 2201


def test_unrelated_support_variables_are_ignored(tmp_path):
    env = {"SUPPORT_TEST_REQUIRE_MYSQL": "1", "SUPPORT_SSH_COLOUR": "bleu"}
    settings = load_settings(config_file=tmp_path / "absent.yaml", env=env)
    assert settings.sections() == Settings().sections()


def test_settings_are_frozen():
    settings = Settings()
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.ssh.port = 22  # type: ignore[misc]


# Bad values -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SUPPORT_SSH_PORT": "deux-mille"}, "SUPPORT_SSH_PORT: nombre entier attendu, reçu 'deux-mille'"),
        ({"SUPPORT_SSH_PORT": "70000"}, "ssh.port: doit être entre 1 et 65535"),
        ({"SUPPORT_SSH_PORT": "-1"}, "ssh.port: doit être entre 1 et 65535"),
        ({"SUPPORT_SECURITY_BCRYPT_COST": "3"}, "security.bcrypt_cost: doit être entre 4 et 31 (reçu 3)"),
        ({"SUPPORT_SECURITY_BCRYPT_COST": "32"}, "security.bcrypt_cost: doit être entre 4 et 31 (reçu 32)"),
        ({"SUPPORT_SSH_GUEST_USER": "support@campus"}, "ssh.guest_user: un nom sans « @ » est attendu"),
        ({"SUPPORT_SSH_GUEST_USER": ""}, "ssh.guest_user: un nom sans « @ » est attendu"),
        (
            {"SUPPORT_DATABASE_URL": "postgresql://u@h/suivi_incident"},
            "database.url: seuls mysql+aiomysql://… et sqlite+aiosqlite://… sont pris en charge",
        ),
        (
            {"SUPPORT_DATABASE_URL": "mysql://root@localhost/suivi_incident"},
            "database.url: seuls mysql+aiomysql://… et sqlite+aiosqlite://… sont pris en charge",
        ),
        ({"SUPPORT_DATABASE_CREATE_SCHEMA": "peut-être"}, "valeur booléenne attendue"),
        ({"SUPPORT_DATABASE_POOL_SIZE": "0"}, "database.pool_size: doit être positif"),
        ({"SUPPORT_LOG_LEVEL": "BAVARD"}, "log.level: niveau inconnu 'BAVARD'"),
    ],
)
def test_bad_environment_value_refused(tmp_path, env, message):
    with pytest.raises(ConfigError) as info:
        load_settings(config_file=tmp_path / "absent.yaml", env=env)
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ssh:\n  port: deux-mille\n", "ssh.port: nombre entier attendu, reçu 'deux-mille'"),
        ("ssh:\n  port: 70000\n", "ssh.port: doit être entre 1 et 65535"),
        ("security:\n  bcrypt_cost: 3\n", "security.bcrypt_cost: doit être entre 4 et 31 (reçu 3)"),
        ("reseau:\n  port: 22\n", "section(s) inconnue(s) reseau"),
        ("ssh:\n  colour: bleu\n", "clé(s) inconnue(s) dans ssh: colour"),
        ("ssh: 2222\n", "la section ssh doit être un dictionnaire"),
        ("- ssh\n- database\n", "un dictionnaire de sections est attendu"),
        ("ssh:\n  port: [\n", "YAML invalide"),
        ('ssh:\n  guest_user: "a@b"\n', "ssh.guest_user: un nom sans « @ » est attendu"),
        ('database:\n  url: "sqlite:///x.db"\n', "database.url: seuls mysql+aiomysql://"),
    ],
)
def test_bad_file_value_refused(tmp_path, text, message):
    path = write_config(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_settings(config_file=path, env={})
    assert message in str(info.value)


def test_port_zero_means_a_free_port(tmp_path):
    assert load_settings(config_file=tmp_path / "absent.yaml", env={"SUPPORT_SSH_PORT": "0"}).ssh.port == 0


def test_auto_workers_are_one_per_core_on_mariadb_and_one_on_sqlite():
    """SQLite's one writer is served in order by one process only: "auto" keeps one there."""
    import os

    cores = len(os.sched_getaffinity(0))
    embedded = load_settings(env={"SUPPORT_SSH_WORKERS": "auto"})
    assert embedded.database_url.startswith("sqlite") and embedded.worker_count() == 1
    mariadb = load_settings(
        env={
            "SUPPORT_SSH_WORKERS": "auto",
            "SUPPORT_DATABASE_URL": "mysql+aiomysql://u@127.0.0.1/suivi_incident",
        }
    )
    assert mariadb.worker_count() == cores
    # A number is taken as it is, SQLite or not.
    assert load_settings(env={"SUPPORT_SSH_WORKERS": "2"}).worker_count() == 2
