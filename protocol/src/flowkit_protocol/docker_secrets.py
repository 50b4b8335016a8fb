"""Settings helpers shared by the components that read Docker secrets (FlowDB, FlowMachine, FlowAPI,
FlowAuth, AutoFlow): a file `SECRETS_DIR/<NAME>` is the secret NAME."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

SECRETS_DIR = Path("/run/secrets")


def read_secret(name: str, secrets_dir: Path | None) -> str | None:
    """The secret file `secrets_dir/name`, stripped ("" if empty); None when `secrets_dir` is None or the
    file cannot be read."""
    if secrets_dir is None:
        return None
    try:
        return (secrets_dir / name).read_text().strip()
    except OSError:
        return None


def lookup(env: Mapping[str, str], name: str, secrets_dir: Path | None) -> str | None:
    """A setting: the secret file if there is one (None if it is empty), else the stripped environment
    variable (None if unset or blank)."""
    secret = read_secret(name, secrets_dir)
    if secret is not None:
        return secret or None
    return env.get(name, "").strip() or None
