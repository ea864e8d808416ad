"""Settings: defaults <- config.yaml <- SUPPORT_* environment variables, as one frozen object."""

from __future__ import annotations

import dataclasses
import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.engine import make_url

from .config_checks import check
from .errors import ConfigError
from .transport.algorithms import Profile

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG_FILE = PROJECT_ROOT / "config.yaml"
ENV_PREFIX = "SUPPORT_"

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def networks(text: str, key: str) -> tuple[IPNetwork, ...]:
    """Addresses and CIDR networks separated by commas or spaces (every exempt list of the
    configuration); ConfigError names `key` and a malformed item."""
    found = []
    for item in text.replace(",", " ").split():
        try:
            found.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ConfigError(f"{key}: adresse ou réseau invalide {item!r}") from None
    return tuple(found)


@dataclass(frozen=True)
class SshSettings:
    host: str = "0.0.0.0"
    port: int = 2222
    guest_user: str = "support"
    host_keys_dir: str = "host_keys"
    # One Ed25519 private key shared by every front end behind a balancer; never generated.
    host_key_file: str = ""
    login_timeout: int = 120
    keepalive_interval: int = 30
    max_connections: int = 5000
    profile: str = Profile.COMPATIBLE.value
    keepalive_count_max: int = 3
    max_unauthenticated: int = 100
    max_per_address: int = 60
    max_unauthenticated_per_address: int = 40
    rate_per_minute: int = 120
    rate_burst: int = 20
    rate_wait: int = 10
    exempt: str = ""
    # HAProxy's PROXY header (v1 or v2) before SSH, from `trusted_proxies` only; off by default.
    proxy_protocol: bool = False
    trusted_proxies: str = ""
    max_auth_tries: int = 6
    idle_timeout: int = 900
    idle_warning: int = 60
    # Worker processes serving the one port (SO_REUSEPORT): a number, or "auto" (one per core
    # on MySQL/MariaDB, one on SQLite).
    workers: str = "auto"

    def worker_count(self, sqlite: bool = False) -> int:
        """The worker processes to start: `workers`, "auto" being one per core this process
        may run on, or one on SQLite (one process hands its one writer's turns out in order;
        several contend for the file's lock: bench/scale.py --workers 2 at 5,000 sessions, 10
        logins refused with "lock wait timeout", none at one); ConfigError if neither."""
        text = str(self.workers).strip().lower()
        if text == "auto":
            if sqlite:
                return 1
            return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        if not text.isdigit() or int(text) < 1:
            raise ConfigError(
                f"ssh.workers: un nombre de processus (1 ou plus) ou « auto » attendu, reçu {self.workers!r}"
            )
        return int(text)

    def exempt_networks(self) -> tuple[IPNetwork, ...]:
        """The `exempt` addresses and CIDR networks; ConfigError names a malformed one."""
        return networks(self.exempt, "ssh.exempt")

    def proxies(self) -> tuple[IPNetwork, ...] | None:
        """The trusted proxies' networks with the PROXY protocol on, else None."""
        if not self.proxy_protocol:
            return None
        found = networks(self.trusted_proxies, "ssh.trusted_proxies")
        if not found:
            raise ConfigError(
                "ssh.trusted_proxies: avec ssh.proxy_protocol, donnez les adresses des répartiteurs "
                "(HAProxy) dont l'en-tête PROXY est cru"
            )
        return found


@dataclass(frozen=True)
class DatabaseSettings:
    url: str = ""
    sqlite_path: str = "data/support.db"
    pool_size: int = 10
    max_overflow: int = 10
    pool_timeout: int = 10
    pool_recycle: int = 1800
    create_schema: bool = True
    # Seconds a transaction may wait for a lock (MariaDB's lock_wait_timeout and
    # innodb_lock_wait_timeout; SQLite's busy timeout and its queue of writers).
    lock_timeout: int = 5
    # Seconds one statement may run on MariaDB (max_statement_time; 0: no bound).
    statement_timeout: int = 20
    # Seconds a shutdown waits for the writes already started (more than pool_timeout).
    shutdown_grace: int = 30


@dataclass(frozen=True)
class SecuritySettings:
    bcrypt_cost: int = 12
    hash_threads: int = 0
    login_window: int = 900
    login_failures_per_account: int = 5
    login_failures_per_address: int = 50
    login_delay_base: int = 2
    login_delay_max: int = 300
    registration_window: int = 3600
    registrations_per_address: int = 40
    throttle_exempt: str = ""

    def exempt_networks(self) -> tuple[IPNetwork, ...]:
        """The `throttle_exempt` addresses and CIDR networks; ConfigError names a malformed one."""
        return networks(self.throttle_exempt, "security.throttle_exempt")


@dataclass(frozen=True)
class LogSettings:
    level: str = "INFO"


@dataclass(frozen=True)
class LiveSettings:
    # Seconds between two looks at the change feed (one small query per process).
    poll_interval: float = 1.0


@dataclass(frozen=True)
class MetricsSettings:
    # "127.0.0.1:9464": the Prometheus endpoint's loopback address and port; empty: off.
    listen: str = ""

    def address(self) -> tuple[str, int] | None:
        """(host, port) to listen on, or None when off; ConfigError if malformed or not loopback."""
        if not self.listen.strip():
            return None
        host, _, port = self.listen.strip().rpartition(":")
        host = host.strip("[]")
        try:
            loopback = ipaddress.ip_address(host).is_loopback
            number = int(port)
        except ValueError:
            raise ConfigError(
                f"metrics.listen: adresse:port attendu, par exemple 127.0.0.1:9464 (reçu {self.listen!r})"
            ) from None
        if not loopback:
            raise ConfigError(
                "metrics.listen: une adresse de bouclage est attendue (127.0.0.1 ou ::1), "
                "car les mesures ne demandent pas d'authentification"
            )
        if not 0 <= number < 65536:
            raise ConfigError(f"metrics.listen: port invalide {port!r}")
        return host, number


@dataclass(frozen=True)
class AttachmentSettings:
    # Bytes: one file, all the files of one ticket, what one user uploads in a day (UTC).
    max_file: int = 10 * 1024 * 1024
    max_ticket: int = 50 * 1024 * 1024
    max_user_day: int = 100 * 1024 * 1024
    # The host name users type to reach the service, in the scp commands shown with each file.
    host: str = ""
    # The port they type (HAProxy's, in front of several processes); 0: this listener's.
    port: int = 0


@dataclass(frozen=True)
class MailSettings:
    # The campus relay; empty: no mail at all (the service runs as without it).
    host: str = ""
    port: int = 587
    # "starttls" (port 587), "tls" (implicit, port 465) or "none" (a relay on this machine).
    security: str = "starttls"
    # Login on the relay; empty: none. The password is never a setting: it is read from the
    # environment variable named here, or from the file below (first line).
    user: str = ""
    password_env: str = "SUPPORT_MAIL_PASSWORD"
    password_file: str = ""
    from_address: str = ""
    from_name: str = "Support technique"
    # Seconds: one conversation with the relay; between two looks at the outbox.
    timeout: int = 30
    poll_interval: float = 5.0
    # Seconds before the first retry, doubling up to retry_max; failed for good after give_up.
    retry_base: int = 60
    retry_max: int = 3600
    give_up: int = 86400
    # Seconds a process keeps the messages it claimed before another may take them over.
    lease: int = 300
    # Seconds a ticket's mail waits for more events, so that close ones make one message.
    group_window: int = 60
    # Seconds a verification code sent to an address stays valid.
    verify_validity: int = 86400

    @property
    def enabled(self) -> bool:
        return bool(self.host.strip())

    def password(self, env: Mapping[str, str] | None = None, base_dir: Path = PROJECT_ROOT) -> str:
        """The relay's password from the environment or the file, "" if neither is set."""
        env = os.environ if env is None else env
        if self.password_env and env.get(self.password_env):
            return env[self.password_env]
        if self.password_file:
            path = Path(self.password_file)
            path = path if path.is_absolute() else base_dir / path
            try:
                return path.read_text(encoding="utf-8").splitlines()[0].strip()
            except (OSError, IndexError):
                raise ConfigError(f"mail.password_file: fichier illisible ou vide ({path})") from None
        return ""


@dataclass(frozen=True)
class DueSettings:
    # The target of each urgency, counted in opening time: hours for Haute, working days
    # (one day: the span of `hours`) for Moyenne and Faible.
    high_hours: float = 4.0
    medium_days: float = 1.0
    low_days: float = 3.0
    # ISO weekdays the centre is open (1 = Monday): "1-5", "1-6", "1,2,3,4,5".
    days: str = "1-5"
    # Opening hours of each open day, local time.
    hours: str = "08:00-17:00"
    # Public holidays, closed all day: "2026-12-25, 2027-01-01".
    holidays: str = ""
    # The centre's time zone (an IANA name).
    timezone: str = "Africa/Dakar"


@dataclass(frozen=True)
class TicketSettings:
    # Days a `Résolu` ticket waits for its requester's answer before the service closes it.
    autoclose_days: int = 7
    # Seconds between two looks for tickets to close.
    autoclose_interval: float = 300.0


@dataclass(frozen=True)
class Settings:
    ssh: SshSettings = field(default_factory=SshSettings)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    security: SecuritySettings = field(default_factory=SecuritySettings)
    log: LogSettings = field(default_factory=LogSettings)
    live: LiveSettings = field(default_factory=LiveSettings)
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    attachments: AttachmentSettings = field(default_factory=AttachmentSettings)
    mail: MailSettings = field(default_factory=MailSettings)
    due: DueSettings = field(default_factory=DueSettings)
    tickets: TicketSettings = field(default_factory=TicketSettings)
    # Folder that relative paths are resolved against (the config file's folder).
    base_dir: Path = PROJECT_ROOT

    def path(self, value: str) -> Path:
        """Resolve a path setting against the config file's folder."""
        p = Path(value)
        return p if p.is_absolute() else self.base_dir / p

    @property
    def database_url(self) -> str:
        """The effective SQLAlchemy URL: the configured one, or the embedded SQLite file."""
        if self.database.url:
            return self.database.url
        return f"sqlite+aiosqlite:///{self.path(self.database.sqlite_path)}"

    def worker_count(self) -> int:
        """ssh.workers for this database (SshSettings.worker_count)."""
        return self.ssh.worker_count(sqlite=self.database_url.startswith("sqlite"))

    @property
    def host_keys_dir(self) -> Path:
        return self.path(self.ssh.host_keys_dir)

    @property
    def host_key_file(self) -> Path | None:
        """The shared host key's file when one is set (`ssh.host_key_file`), else None."""
        return self.path(self.ssh.host_key_file) if self.ssh.host_key_file else None

    def warnings(self) -> list[str]:
        """Settings that work but that an operator should change, one French sentence each."""
        found = []
        if self.database.url and make_url(self.database.url).username == "root":
            found.append(
                "la base de données est utilisée en tant que root : créez un utilisateur limité "
                "(SELECT, INSERT, UPDATE, DELETE sur la base seulement, voir le README) et "
                "mettez-le dans database.url"
            )
        return found

    def sections(self) -> dict[str, Any]:
        """Every setting as {section: {key: value}}, for display."""
        return {
            f.name: dataclasses.asdict(getattr(self, f.name))
            for f in dataclasses.fields(self)
            if f.name != "base_dir"
        }


def _coerce(name: str, raw: Any, default: Any) -> Any:
    """Convert a YAML or environment value to the type of the setting's default."""
    if isinstance(default, bool):
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in {"1", "true", "yes", "on", "oui"}:
            return True
        if text in {"0", "false", "no", "off", "non"}:
            return False
        raise ConfigError(f"{name}: valeur booléenne attendue, reçu {raw!r}")
    if isinstance(default, int):
        try:
            return int(str(raw).strip())
        except ValueError:
            raise ConfigError(f"{name}: nombre entier attendu, reçu {raw!r}") from None
    if isinstance(default, float):
        try:
            return float(str(raw).strip())
        except ValueError:
            raise ConfigError(f"{name}: nombre attendu, reçu {raw!r}") from None
    if raw is None:
        return ""
    return str(raw)


def load_settings(
    config_file: Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> Settings:
    """Build the settings: class defaults, then the YAML file, then the environment, then overrides."""
    env = os.environ if env is None else env
    config_file = Path(env.get(f"{ENV_PREFIX}CONFIG", "") or config_file or DEFAULT_CONFIG_FILE)
    from_file: dict[str, Any] = {}
    if config_file.exists():
        try:
            from_file = yaml.safe_load(config_file.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{config_file}: YAML invalide ({exc})") from None
        if not isinstance(from_file, dict):
            raise ConfigError(f"{config_file}: un dictionnaire de sections est attendu")
    unknown = set(from_file) - {f.name for f in dataclasses.fields(Settings)} - {"base_dir"}
    if unknown:
        raise ConfigError(f"{config_file}: section(s) inconnue(s) {', '.join(sorted(unknown))}")

    sections: dict[str, Any] = {}
    for section_field in dataclasses.fields(Settings):
        if section_field.name == "base_dir":
            continue
        cls = type(section_field.default_factory())  # type: ignore[misc]
        defaults = cls()
        file_section = from_file.get(section_field.name) or {}
        if not isinstance(file_section, dict):
            raise ConfigError(f"{config_file}: la section {section_field.name} doit être un dictionnaire")
        extra = set(file_section) - {f.name for f in dataclasses.fields(cls)}
        if extra:
            raise ConfigError(
                f"{config_file}: clé(s) inconnue(s) dans {section_field.name}: {', '.join(sorted(extra))}"
            )
        section_overrides = (overrides or {}).get(section_field.name, {})
        values = {}
        for f in dataclasses.fields(cls):
            name = f"{section_field.name}.{f.name}"
            default = getattr(defaults, f.name)
            value = default
            if f.name in file_section:
                value = _coerce(name, file_section[f.name], default)
            env_name = f"{ENV_PREFIX}{section_field.name}_{f.name}".upper()
            if env_name in env:
                value = _coerce(env_name, env[env_name], default)
            if f.name in section_overrides:
                value = _coerce(name, section_overrides[f.name], default)
            values[f.name] = value
        sections[section_field.name] = cls(**values)
    settings = Settings(**sections, base_dir=config_file.resolve().parent)
    check(settings)
    return settings
