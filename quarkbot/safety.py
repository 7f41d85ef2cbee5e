"""Refuse to start on insecure configuration, and keep the embedded default's secrets.

Money is involved: an insecure setting is a start-up error, never only a warning.
"""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from quarkbot.settings import Settings

MIN_SECRET_BYTES = 32

#: Values seen in tutorials and templates; any of them as a secret is refused.
WELL_KNOWN_SECRETS = frozenset(
    {
        "secret",
        "changeme",
        "change-me",
        "changethis",
        "password",
        "your-secret-key",
        "your_secret_key",
        "supersecret",
        "super-secret-key",
        "mysecretkey",
        "secret-key",
        "secretkey",
        "jwt-secret",
        "jwtsecret",
        "development",
        "default",
        "quarkbot",
        "insecure",
        "test",
        "09d25e094faa6ca2556c818166b7a9563b93f7099f6f0f4caa6cf63b88e8d3e7",
    }
)


class InsecureConfiguration(RuntimeError):
    """The configuration would be unsafe; the message names every problem found."""


@dataclass(frozen=True)
class ServerSecrets:
    jwt_secret: str
    api_key_secret: str


#: zxcvbn's estimate of the guesses a secret takes, as a power of ten: 16 random hex digits
#: (the shortest accepted) score about 27, a word repeated to 32 bytes about 1 to 8.
MIN_SECRET_GUESSES_LOG10 = 24
GENERATE = "generate one with `openssl rand -hex 32`"


def _secret_problem(name: str, value: str) -> str | None:
    normalized = value.strip().lower()
    if normalized in WELL_KNOWN_SECRETS or len(set(value)) <= 4:
        return f"{name} is a well-known or trivial value; {GENERATE}"
    if len(value.encode()) < MIN_SECRET_BYTES:
        return (
            f"{name} is {len(value.encode())} bytes; it must be at least {MIN_SECRET_BYTES} bytes"
        )
    if guesses_log10(value) < MIN_SECRET_GUESSES_LOG10:
        return f"{name} is too easy to guess (words, keyboard patterns or repeats); {GENERATE}"
    return None


def guesses_log10(secret: str) -> float:
    """The zxcvbn strength estimate of ``secret`` (log10 of the guesses an attacker needs).

    zxcvbn knows common words, names, dates, keyboard walks, sequences and repeats; only the
    first 72 characters are scored (its limit), which is more than the threshold needs.
    """
    from zxcvbn import zxcvbn

    return float(zxcvbn(secret[:72])["guesses_log10"])


def is_loopback(host: str) -> bool:
    if host in {"localhost", "ip6-localhost"}:
        return True
    if host.startswith("unix:"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_configuration(settings: Settings) -> None:
    """Raise ``InsecureConfiguration`` naming each problem; return quietly when all is safe."""
    problems: list[str] = []
    if settings.jwt.secret is not None:
        problem = _secret_problem("QUARKBOT_JWT__SECRET", settings.jwt.secret.get_secret_value())
        if problem:
            problems.append(problem)
    if settings.api_key_secret is not None:
        problem = _secret_problem(
            "QUARKBOT_API_KEY_SECRET", settings.api_key_secret.get_secret_value()
        )
        if problem:
            problems.append(problem)
    if not is_loopback(settings.host) and not settings.allow_public_bind:
        problems.append(
            f"QUARKBOT_HOST={settings.host} is not a loopback address; set "
            "QUARKBOT_ALLOW_PUBLIC_BIND=true to serve on a public interface on purpose"
        )
    if "*" in settings.cors_origins and settings.cors_allow_credentials:
        problems.append(
            "QUARKBOT_CORS_ORIGINS='*' with QUARKBOT_CORS_ALLOW_CREDENTIALS=true lets any site "
            "act as a logged-in user; list the allowed origins instead"
        )
    if problems:
        raise InsecureConfiguration(
            "refusing to start, insecure configuration:\n  - " + "\n  - ".join(problems)
        )


def _write_private(path: Path, text: str) -> bool:
    """Create ``path`` with mode 0600; False if it already exists (another process won)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    return True


def load_secrets(settings: Settings) -> ServerSecrets:
    """Secrets from settings, or else the embedded default's random ones kept in the data dir."""
    generated: dict[str, str] = {}
    if settings.jwt.secret is None or settings.api_key_secret is None:
        settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = settings.data_dir / "secrets.json"
        fresh = {
            "jwt_secret": secrets.token_urlsafe(48),
            "api_key_secret": secrets.token_urlsafe(48),
        }
        _write_private(path, json.dumps(fresh))
        if path.stat().st_mode & 0o077:
            raise InsecureConfiguration(
                f"{path} is readable by other users; run `chmod 600 {path}`"
            )
        generated = json.loads(path.read_text())
    jwt_secret = (
        settings.jwt.secret.get_secret_value() if settings.jwt.secret else generated["jwt_secret"]
    )
    api_key_secret = (
        settings.api_key_secret.get_secret_value()
        if settings.api_key_secret
        else generated["api_key_secret"]
    )
    return ServerSecrets(jwt_secret=jwt_secret, api_key_secret=api_key_secret)


def write_admin_credentials(settings: Settings, username: str, password: str) -> Path:
    path = settings.data_dir / "admin-credentials.txt"
    _write_private(path, f"username: {username}\npassword: {password}\n")
    return path
