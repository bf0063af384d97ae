"""Alpaca API keys: read from the environment (or a secrets file it names) at the moment a client
is built, never stored in the database, in Django settings (the debug page prints settings), in a
log line, or in the repr of anything.

    ALPACA_KEY_ID / ALPACA_SECRET_KEY      the key pair itself, or
    ALPACA_SECRETS_FILE                    a file of `NAME=value` lines holding both names
                                           (the shape of a Kubernetes / systemd secret file)

The environment variables win over the file when both are set, so an operator can override one
file-held key for a single process.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..base import BrokerError

KEY_ID_VAR = "ALPACA_KEY_ID"
SECRET_KEY_VAR = "ALPACA_SECRET_KEY"
SECRETS_FILE_VAR = "ALPACA_SECRETS_FILE"


class CredentialsMissing(BrokerError):
    """No usable Alpaca key pair in the environment or the secrets file."""


@dataclass(frozen=True)
class AlpacaCredentials:
    key_id: str
    # repr=False: a traceback, a log of the broker or a debugger never prints the secret.
    secret_key: str = field(repr=False)

    def headers(self) -> dict[str, str]:
        """Alpaca's REST authentication headers (trading and market data alike)."""
        return {"APCA-API-KEY-ID": self.key_id, "APCA-API-SECRET-KEY": self.secret_key}

    def __str__(self) -> str:
        return f"Alpaca key {self.key_id}"


def _read_secrets_file(path: str) -> dict[str, str]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        # The path is the operator's, not a secret; the exception text never holds file content.
        raise CredentialsMissing(
            f"{SECRETS_FILE_VAR}={path}: cannot read the file ({exc.strerror})"
        ) from None
    values: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        name, _, value = line.partition("=")
        values[name.strip().removeprefix("export ").strip()] = value.strip().strip("'\"")
    return values


def credentials_from_env(environ: Mapping[str, str] | None = None) -> AlpacaCredentials:
    """The key pair from `environ` (default os.environ); CredentialsMissing names what is absent,
    never a value."""
    environ = os.environ if environ is None else environ
    found = {name: environ.get(name, "") for name in (KEY_ID_VAR, SECRET_KEY_VAR)}
    path = environ.get(SECRETS_FILE_VAR, "")
    if path and not all(found.values()):
        from_file = _read_secrets_file(path)
        found = {name: found[name] or from_file.get(name, "") for name in found}
    missing = [name for name, value in found.items() if not value]
    if missing:
        where = f"the environment or {SECRETS_FILE_VAR}={path}" if path else "the environment"
        raise CredentialsMissing(f"Alpaca credentials: {', '.join(missing)} not set in {where}")
    return AlpacaCredentials(key_id=found[KEY_ID_VAR], secret_key=found[SECRET_KEY_VAR])
