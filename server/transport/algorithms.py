"""SSH algorithm profiles: what the server offers in `compatible` and `strict`, as ssh-audit rates it."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Profile(enum.StrEnum):
    """The `ssh.profile` setting."""

    # Every client of the last ten years (OpenSSH 7.4+, PuTTY 0.70+): no ssh-audit failure.
    COMPATIBLE = "compatible"
    # Post-quantum key exchange only (OpenSSH 9.9+, PuTTY 0.83+): no ssh-audit warning either.
    STRICT = "strict"


# Hybrid ML-KEM-768 + X25519: asyncssh has it when `cryptography` is linked with OpenSSL 3.5+
# (PyPI's wheels bundle such an OpenSSL), or when liboqs is installed.
POST_QUANTUM_KEX = "mlkem768x25519-sha256"


@dataclass(frozen=True)
class Algorithms:
    """The lists handed to asyncssh; the host key type comes from the key itself (Ed25519)."""

    kex: tuple[str, ...]
    encryption: tuple[str, ...]
    mac: tuple[str, ...]

    def server_options(self) -> dict[str, list[str]]:
        """Keyword arguments for `asyncssh.create_server`."""
        return {
            "kex_algs": list(self.kex),
            "encryption_algs": list(self.encryption),
            "mac_algs": list(self.mac),
            "compression_algs": ["none"],
        }


# AEAD ciphers first; CTR for clients without them (PuTTY before 0.76 has no GCM). No CBC.
_CIPHERS = (
    "chacha20-poly1305@openssh.com",
    "aes256-gcm@openssh.com",
    "aes128-gcm@openssh.com",
    "aes256-ctr",
    "aes192-ctr",
    "aes128-ctr",
)
# Encrypt-then-MAC only: ssh-audit warns about encrypt-and-MAC, and every ETM here is clean.
_ETM_MACS = (
    "hmac-sha2-256-etm@openssh.com",
    "hmac-sha2-512-etm@openssh.com",
    "umac-128-etm@openssh.com",
)

PROFILES: dict[Profile, Algorithms] = {
    Profile.COMPATIBLE: Algorithms(
        kex=(
            POST_QUANTUM_KEX,
            "curve25519-sha256",
            # The name OpenSSH 6.5–7.3 and PuTTY 0.68–0.73 know X25519 by.
            "curve25519-sha256@libssh.org",
            # For libraries without X25519 (older paramiko, JSch): warned, not failed. No NIST
            # curves, no SHA-1, no group exchange (asyncssh's allows 1024-bit moduli).
            "diffie-hellman-group16-sha512",
            "diffie-hellman-group18-sha512",
            "diffie-hellman-group14-sha256",
        ),
        encryption=_CIPHERS,
        # Encrypt-and-MAC SHA-2 last, for clients with CTR ciphers and no ETM (paramiko):
        # ssh-audit warns about them, and SHA-1 and 64-bit tags (which it fails) stay out.
        mac=(*_ETM_MACS, "hmac-sha2-256", "hmac-sha2-512"),
    ),
    Profile.STRICT: Algorithms(
        kex=(POST_QUANTUM_KEX,),
        encryption=_CIPHERS,
        mac=_ETM_MACS,
    ),
}
