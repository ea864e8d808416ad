"""The settings' rules: what load_settings refuses, the setting named with what is expected."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import ConfigError
from .transport.algorithms import Profile

if TYPE_CHECKING:
    from .config import DueSettings, MailSettings, Settings, SshSettings

MAIL_SECURITY = ("starttls", "tls", "none")


def check(settings: Settings) -> None:
    """Refuse settings out of range, with the setting's name and what is expected."""
    if not 0 <= settings.ssh.port < 65536:
        raise ConfigError(
            f"ssh.port: doit être entre 1 et 65535, ou 0 pour un port libre (reçu {settings.ssh.port})"
        )
    if not 4 <= settings.security.bcrypt_cost <= 31:
        raise ConfigError(
            f"security.bcrypt_cost: doit être entre 4 et 31 (reçu {settings.security.bcrypt_cost})"
        )
    if settings.security.hash_threads < 0:
        raise ConfigError("security.hash_threads: 0 (automatique) ou un nombre de threads attendu")
    if settings.ssh.profile not in {p.value for p in Profile}:
        raise ConfigError(
            f"ssh.profile: profil inconnu {settings.ssh.profile!r} (compatible ou strict attendu)"
        )
    for key in (
        "login_window",
        "login_failures_per_account",
        "login_failures_per_address",
        "login_delay_base",
        "login_delay_max",
        "registration_window",
        "registrations_per_address",
    ):
        if getattr(settings.security, key) < 1:
            raise ConfigError(f"security.{key}: doit être positif")
    settings.security.exempt_networks()
    if not settings.ssh.guest_user or "@" in settings.ssh.guest_user:
        raise ConfigError("ssh.guest_user: un nom sans « @ » est attendu")
    _check_connections(settings.ssh)
    settings.worker_count()
    url = settings.database.url
    if url and not url.startswith(("mysql+aiomysql://", "sqlite+aiosqlite://")):
        raise ConfigError(
            "database.url: seuls mysql+aiomysql://… et sqlite+aiosqlite://… sont pris en charge"
        )
    for key in ("pool_size", "pool_timeout", "pool_recycle", "lock_timeout", "shutdown_grace"):
        if getattr(settings.database, key) < 1:
            raise ConfigError(f"database.{key}: doit être positif")
    if settings.database.statement_timeout < 0:
        raise ConfigError("database.statement_timeout: 0 (sans limite) ou un nombre positif attendu")
    if settings.database.shutdown_grace <= settings.database.pool_timeout:
        raise ConfigError(
            "database.shutdown_grace: doit dépasser database.pool_timeout, pour qu'une écriture "
            "qui attend une connexion ait le temps de finir"
        )
    if not 0.05 <= settings.live.poll_interval <= 60:
        raise ConfigError("live.poll_interval: doit être entre 0.05 et 60 secondes")
    settings.metrics.address()
    settings.ssh.proxies()
    _check_mail(settings.mail)
    _check_due(settings.due)
    if settings.tickets.autoclose_days < 1:
        raise ConfigError(
            f"tickets.autoclose_days: au moins 1 jour, reçu {settings.tickets.autoclose_days!r}"
        )
    if settings.tickets.autoclose_interval <= 0:
        raise ConfigError(
            f"tickets.autoclose_interval: doit être positif, reçu {settings.tickets.autoclose_interval!r}"
        )
    if not 0 <= settings.attachments.port < 65536:
        raise ConfigError(
            f"attachments.port: doit être entre 1 et 65535, ou 0 (reçu {settings.attachments.port})"
        )
    if settings.log.level.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ConfigError(f"log.level: niveau inconnu {settings.log.level!r}")


def _check_due(due: DueSettings) -> None:
    from .domain.due import opening_hours

    try:
        opening_hours(due.days, due.hours, due.holidays, due.timezone)
    except ValueError as exc:
        raise ConfigError(f"due: {exc}") from None
    for key in ("high_hours", "medium_days", "low_days"):
        if getattr(due, key) <= 0:
            raise ConfigError(f"due.{key}: doit être positif, reçu {getattr(due, key)!r}")


def _check_mail(mail: MailSettings) -> None:
    if not mail.enabled:
        return
    if mail.security not in MAIL_SECURITY:
        raise ConfigError(f"mail.security: starttls, tls ou none attendu (reçu {mail.security!r})")
    if not 0 < mail.port < 65536:
        raise ConfigError(f"mail.port: doit être entre 1 et 65535 (reçu {mail.port})")
    address = mail.from_address.strip()
    if "@" not in address or any(ch in address for ch in "\r\n<>, "):
        raise ConfigError("mail.from_address: l'adresse d'expédition est obligatoire avec mail.host")
    if any(ch in mail.from_name for ch in "\r\n"):
        raise ConfigError("mail.from_name: une seule ligne attendue")
    if mail.group_window < 0:
        raise ConfigError("mail.group_window: 0 (un message par événement) ou un nombre positif attendu")
    for key in ("timeout", "retry_base", "retry_max", "give_up", "lease", "verify_validity"):
        if getattr(mail, key) < 1:
            raise ConfigError(f"mail.{key}: doit être positif")
    if not 0.05 <= mail.poll_interval <= 600:
        raise ConfigError("mail.poll_interval: doit être entre 0.05 et 600 secondes")


def _check_connections(ssh: SshSettings) -> None:
    for key in (
        "max_connections",
        "max_unauthenticated",
        "max_per_address",
        "max_unauthenticated_per_address",
        "rate_burst",
        "max_auth_tries",
    ):
        if getattr(ssh, key) < 1:
            raise ConfigError(f"ssh.{key}: doit être positif")
    for key in (
        "login_timeout",
        "keepalive_interval",
        "keepalive_count_max",
        "rate_per_minute",
        "rate_wait",
        "idle_timeout",
        "idle_warning",
    ):
        if getattr(ssh, key) < 0:
            raise ConfigError(f"ssh.{key}: 0 (désactivé) ou un nombre positif attendu")
    if ssh.idle_timeout and ssh.idle_warning >= ssh.idle_timeout:
        raise ConfigError("ssh.idle_warning: doit être plus court que ssh.idle_timeout")
    ssh.exempt_networks()
