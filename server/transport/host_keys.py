"""The server's Ed25519 host key: generated once in its folder, or one shared by every front end."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import asyncssh

from ..config import ConfigError

log = logging.getLogger("support.sshd")

HOST_KEY_NAME = "ssh_host_ed25519_key"


def load_host_key(folder: Path) -> asyncssh.SSHKey:
    """The Ed25519 host key, generated on first start with mode 0600 and kept afterwards."""
    path = folder / HOST_KEY_NAME
    if not path.exists():
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        key = asyncssh.generate_private_key("ssh-ed25519")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(key.export_private_key())
        (folder / f"{HOST_KEY_NAME}.pub").write_bytes(key.export_public_key())
        log.info("host key generated path=%s", path)
    check_host_key_mode(path)
    key = asyncssh.read_private_key(path)
    log.info("host key fingerprint=%s", key.get_fingerprint("sha256"))
    return key


def service_host_key(folder: Path, shared: Path | None) -> asyncssh.SSHKey:
    """The service's host key: the one all front ends share (`ssh.host_key_file`) when set,
    else this machine's own in `folder`, generated on the first start."""
    return load_host_key(folder) if shared is None else load_shared_host_key(shared)


def load_shared_host_key(path: Path) -> asyncssh.SSHKey:
    """The Ed25519 host key every front end behind a balancer serves (`ssh.host_key_file`).

    Never generated here: a key made by one front end alone would differ from the others'.
    """
    if not path.is_file():
        raise ConfigError(
            f"ssh.host_key_file : {path} n'existe pas ; copiez-y la clé d'hôte commune à tous "
            "les frontaux (ssh-keygen -t ed25519 -N '' -f FICHIER la crée une fois)"
        )
    check_host_key_mode(path)
    try:
        key = asyncssh.read_private_key(path)
    except (asyncssh.KeyImportError, OSError, ValueError) as exc:
        raise ConfigError(f"ssh.host_key_file : {path} n'est pas une clé privée lisible ({exc})") from None
    if key.get_algorithm() != "ssh-ed25519":
        raise ConfigError(
            f"ssh.host_key_file : {path} est une clé {key.get_algorithm()}, une clé ssh-ed25519 est attendue"
        )
    log.info("shared host key path=%s fingerprint=%s", path, key.get_fingerprint("sha256"))
    return key


def check_host_key_mode(path: Path) -> None:
    """Refuse a private host key that other accounts may read or change, as sshd does."""
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise ConfigError(
            f"la clé d'hôte {path} est accessible à d'autres comptes (mode {mode:04o}) ; "
            f"faites : chmod 600 {path}"
        )
