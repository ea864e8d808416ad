"""Command line: serve (default), create-admin, init-db, backup, restore, mail-queue, check-config."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from pathlib import Path

import yaml
from sqlalchemy.engine import make_url

from .config import ConfigError, Settings, load_settings
from .context import create_user
from .domain import validation
from .domain.models import Role
from .errors import UserError
from .security import PasswordHasher
from .store import Database, backup
from .store.ddl import schema_sql
from .store.migrate import SCHEMA_VERSION, upgrade


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(Path(args.config) if args.config else None)


def masked_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True) if url else url


def cmd_serve(args: argparse.Namespace) -> int:
    from .app import serve
    from .process import setup_logging

    settings = _settings(args)
    setup_logging(settings.log.level)
    if settings.worker_count() > 1:
        from .workers import supervise

        return supervise(settings)
    return asyncio.run(serve(settings))


def cmd_worker(args: argparse.Namespace) -> int:
    """One of the processes `serve` starts with ssh.workers > 1 (workers.py), never by hand."""
    from .process import setup_logging
    from .workers import run_worker, worker_settings

    settings = worker_settings(args.settings, args.port)
    setup_logging(settings.log.level, worker=args.index)
    return asyncio.run(run_worker(settings, args.index, args.gate))


def cmd_check_config(args: argparse.Namespace) -> int:
    settings = _settings(args)
    sections = settings.sections()
    sections["database"]["url"] = masked_url(settings.database.url)
    print(yaml.safe_dump(sections, allow_unicode=True, sort_keys=False).rstrip())
    print(f"# base de données effective : {masked_url(settings.database_url)}")
    shared = settings.host_key_file
    print(f"# clés d'hôte : {settings.host_keys_dir if shared is None else shared}")
    for warning in settings.warnings():
        print(f"Attention : {warning}", file=sys.stderr)
    return 0


async def _init_db(settings: Settings) -> list[int]:
    db = Database(settings)
    try:
        return await upgrade(db)
    finally:
        await db.close()


def cmd_init_db(args: argparse.Namespace) -> int:
    settings = _settings(args)
    applied = asyncio.run(_init_db(settings))
    where = masked_url(settings.database_url)
    if applied:
        versions = ", ".join(str(v) for v in applied)
        print(f"Schéma {SCHEMA_VERSION} appliqué à {where} (versions appliquées : {versions})")
    else:
        print(f"Schéma déjà à jour (version {SCHEMA_VERSION}) : {where}")
    return 0


def _read_password() -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Mot de passe : ")
    second = getpass.getpass("Confirmation : ")
    validation.password_confirmation(first, second)
    return first


async def _create_admin(settings: Settings, name: str, email: str, password: str) -> None:
    db = Database(settings)
    try:
        if not db.mysql:
            await upgrade(db)
        hasher = PasswordHasher(settings.security.bcrypt_cost, settings.security.hash_threads)
        try:
            hashed = await hasher.hash(password)
        finally:
            hasher.close()
        await create_user(db, name, email, hashed, Role.ADMIN)
    finally:
        await db.close()


def cmd_create_admin(args: argparse.Namespace) -> int:
    settings = _settings(args)
    name = validation.name(args.name)
    email = validation.email(args.email)
    password = validation.new_password(_read_password())
    asyncio.run(_create_admin(settings, name, email, password))
    print(f"Administrateur créé : {email}")
    return 0


async def _backup(settings: Settings, target: Path) -> dict[str, int]:
    db = Database(settings)
    try:
        return await backup.backup(db, target)
    finally:
        await db.close()


def cmd_backup(args: argparse.Namespace) -> int:
    settings = _settings(args)
    target = Path(args.file)
    counts = asyncio.run(_backup(settings, target))
    rows = sum(counts.values())
    print(f"Sauvegarde écrite dans {target} : {rows} lignes, {len(counts)} tables (schéma {SCHEMA_VERSION})")
    return 0


async def _restore(settings: Settings, source: Path, force: bool) -> dict[str, int]:
    db = Database(settings)
    try:
        return await backup.restore(db, source, force=force)
    finally:
        await db.close()


def cmd_restore(args: argparse.Namespace) -> int:
    settings = _settings(args)
    counts = asyncio.run(_restore(settings, Path(args.file), args.force))
    where = masked_url(settings.database_url)
    print(f"Sauvegarde {args.file} restaurée dans {where} : {sum(counts.values())} lignes")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    settings = _settings(args)
    listen = settings.metrics.address()
    if listen is None:
        print("Erreur : metrics.listen n'est pas réglé, le service ne publie pas son état.", file=sys.stderr)
        return 2
    host, port = listen
    url = f"http://{'[' + host + ']' if ':' in host else host}:{port}/metrics"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            text = response.read().decode("utf-8")
    except OSError as exc:
        print(f"Erreur : le service ne répond pas sur {url} ({exc}).", file=sys.stderr)
        return 1
    up = 1.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if not sample.name.startswith("support_") or sample.name.endswith("_created"):
                continue
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            print(f"{sample.name}{'{' + labels + '}' if labels else ''} {sample.value:g}")
            if sample.name == "support_db_up":
                up = sample.value
    if up != 1:
        print("Erreur : la base de données ne répond pas au service.", file=sys.stderr)
        return 1
    return 0


async def _mail_queue(settings: Settings, retry: str | None) -> tuple[int, list, tuple[int, int]]:
    from .store import outbox, utcnow

    db = Database(settings)
    try:
        retried = 0
        if retry is not None:
            mail_id = None if retry == "all" else int(retry)
            retried = await db.write(lambda conn: outbox.retry(conn, utcnow(), mail_id))
        async with db.transaction() as conn:
            return retried, await outbox.unsent(conn), await outbox.counts(conn)
    finally:
        await db.close()


def cmd_mail_queue(args: argparse.Namespace) -> int:
    """Waiting and failed messages, one per line; with --retry, sent again at once."""
    from .domain.text import loggable

    settings = _settings(args)
    if args.retry not in (None, "all") and not (args.retry.isascii() and args.retry.isdigit()):
        print("Erreur : --retry attend un numéro de message ou « all ».", file=sys.stderr)
        return 2
    retried, mails, (waiting, failed) = asyncio.run(_mail_queue(settings, args.retry))
    if not settings.mail.enabled:
        print("# mail.host n'est pas réglé : aucun courriel n'est envoyé.")
    if args.retry is not None:
        print(f"{retried} message(s) remis en file pour un envoi immédiat.")
    for m in mails:
        state = (
            f"échec {m.failed_at:%Y-%m-%d %H:%M}"
            if m.failed_at
            else f"attente {m.next_attempt_at:%Y-%m-%d %H:%M:%S}"
        )
        error = f" — {loggable(m.last_error, 200)}" if m.last_error else ""
        print(
            f"#{m.id} {state} · {m.attempts} essai(s) · créé {m.created_at:%Y-%m-%d %H:%M} · "
            f"{loggable(m.to_address)} · {loggable(m.subject, 80)}{error}"
        )
    print(f"En attente : {waiting} · en échec : {failed}")
    return 0


def cmd_schema_sql(_args: argparse.Namespace) -> int:
    sys.stdout.write(schema_sql())
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m server",
        description="Support Tickets : le support technique du campus, servi par SSH.",
    )
    p.add_argument("--config", help="fichier de configuration (défaut : config.yaml du projet)")
    p.set_defaults(func=cmd_serve)
    sub = p.add_subparsers(title="commandes")
    s = sub.add_parser(
        "serve",
        help="démarrer le service SSH (commande par défaut)",
        description="Démarre le service SSH ; SIGTERM ou Ctrl-C l'arrêtent proprement.",
    )
    s.set_defaults(func=cmd_serve)
    s = sub.add_parser("worker")  # started by serve (ssh.workers), not listed
    s.add_argument("index", type=int)
    s.add_argument("gate")
    s.add_argument("port", type=int)
    s.add_argument("settings")
    s.set_defaults(func=cmd_worker)
    s = sub.add_parser(
        "create-admin",
        help="créer un compte administrateur",
        description="Crée un administrateur. Le mot de passe est lu sur l'entrée "
        "standard si ce n'est pas un terminal, sinon demandé deux fois.",
    )
    s.add_argument("--email", required=True, help="e-mail de l'administrateur")
    s.add_argument("--name", required=True, help="nom affiché")
    s.set_defaults(func=cmd_create_admin)
    s = sub.add_parser(
        "init-db",
        help="appliquer le schéma à la base configurée",
        description="Crée les tables manquantes et les statuts (sans effet si tout existe déjà).",
    )
    s.set_defaults(func=cmd_init_db)
    s = sub.add_parser(
        "backup",
        help="sauvegarder la base pendant que le service tourne",
        description="Écrit dans FICHIER une copie cohérente de toute la base (lignes JSON, "
        "restaurable sur SQLite comme sur MariaDB) sans arrêter le service ni bloquer ses écritures.",
    )
    s.add_argument("file", metavar="FICHIER", help="fichier de sauvegarde à écrire")
    s.set_defaults(func=cmd_backup)
    s = sub.add_parser(
        "restore",
        help="restaurer une sauvegarde dans la base configurée",
        description="Charge FICHIER dans la base configurée, en une transaction. Une base qui "
        "contient déjà des données est refusée, sauf avec --force qui les remplace.",
    )
    s.add_argument("file", metavar="FICHIER", help="sauvegarde écrite par « backup »")
    s.add_argument("--force", action="store_true", help="remplacer les données déjà présentes")
    s.set_defaults(func=cmd_restore)
    s = sub.add_parser(
        "status",
        help="afficher l'état du service en marche",
        description="Lit les mesures du service en marche (metrics.listen) et les affiche, une "
        "par ligne ; sort avec le code 1 si le service ou sa base ne répond pas.",
    )
    s.set_defaults(func=cmd_status)
    s = sub.add_parser(
        "mail-queue",
        help="lister les courriels en attente et en échec",
        description="Liste les courriels qui attendent le relais et ceux qu'il a refusés pendant "
        "24 h ; --retry NUMÉRO (ou all) les renvoie tout de suite.",
    )
    s.add_argument("--retry", metavar="NUMÉRO", help="renvoyer ce message, ou « all » : tous")
    s.set_defaults(func=cmd_mail_queue)
    s = sub.add_parser(
        "schema-sql",
        help="écrire schema_support.sql tel que le schéma le définit",
        description="Écrit sur la sortie standard le schéma MySQL/MariaDB complet, tiré des "
        "définitions des tables : python -m server schema-sql > schema_support.sql",
    )
    s.set_defaults(func=cmd_schema_sql)
    s = sub.add_parser(
        "check-config",
        help="afficher la configuration effective",
        description="Affiche chaque réglage effectif (mot de passe de la base masqué).",
    )
    s.set_defaults(func=cmd_check_config)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except (ConfigError, UserError) as exc:
        # The driver's own words (SQLAlchemy's wrapper adds a multi-line hint).
        origin = getattr(exc.__cause__, "orig", None) or exc.__cause__
        cause = f" ({type(origin).__name__}: {origin})" if origin else ""
        print(f"Erreur : {exc}{cause}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"Erreur : {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
