"""Typed AutoFlow settings from the environment (FlowKit's names; documented in docs/admin-guide.md), read only
when asked. A file `/run/secrets/<NAME>` (a Docker secret) wins over the variable of the same name for
`AUTOFLOW_DB_PASSWORD` and `FLOWAPI_TOKEN`, as in FlowKit's deployments."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from autoflow.errors import ConfigError
from flowkit_protocol.docker_secrets import SECRETS_DIR, read_secret

SECRET_NAMES = ("AUTOFLOW_DB_PASSWORD", "FLOWAPI_TOKEN")
LOG_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")
DEFAULT_FLOWAPI_URL = "http://127.0.0.1:9090"
DB_FILE = "autoflow.db"


def _lookup(env: Mapping[str, str], name: str, secrets_dir: Path | None) -> str | None:
    secret = read_secret(name, secrets_dir) if name in SECRET_NAMES else None
    if secret:  # an empty or unreadable secret file: the environment variable
        return secret
    value = env.get(name)
    return value if value else None


@dataclass(frozen=True)
class Settings:
    inputs_dir: Path
    outputs_dir: Path
    home: Path  # AutoFlow's own files (Prefect's state in ephemeral mode)
    db_uri: str = field(repr=False)  # with the password in place of `{}`
    flowapi_url: str = DEFAULT_FLOWAPI_URL
    flowapi_token: str | None = field(default=None, repr=False)
    ssl_certificate: str | None = None  # a CA bundle for flowclient (None: the system's)
    log_level: str = "ERROR"
    # A `running` row older than this is taken as a run that died (see runs.py).
    running_timeout: int = 86400

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, *, secrets_dir: Path | None = SECRETS_DIR
    ) -> Settings:
        env = dict(os.environ if env is None else env)
        level = _lookup(env, "AUTOFLOW_LOG_LEVEL", secrets_dir) or "ERROR"
        if level not in LOG_LEVELS:
            hint = " (upper-case)" if level.upper() in LOG_LEVELS else ""
            raise ConfigError(
                f"AUTOFLOW_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}{hint}, got {level!r}"
            )
        home = Path(_lookup(env, "AUTOFLOW_HOME", secrets_dir) or Path.home() / ".autoflow")
        inputs = Path(_lookup(env, "AUTOFLOW_INPUTS_DIR", secrets_dir) or home / "inputs")
        outputs = Path(_lookup(env, "AUTOFLOW_OUTPUTS_DIR", secrets_dir) or home / "outputs")
        uri = _lookup(env, "AUTOFLOW_DB_URI", secrets_dir) or f"sqlite:///{outputs / DB_FILE}"
        if "{}" in uri:
            password = _lookup(env, "AUTOFLOW_DB_PASSWORD", secrets_dir)
            if password is None:
                raise ConfigError(
                    "AUTOFLOW_DB_URI has a {} for the password, but AUTOFLOW_DB_PASSWORD is not set "
                    "(nor /run/secrets/AUTOFLOW_DB_PASSWORD)"
                )
            uri = uri.replace("{}", password)
        timeout_text = _lookup(env, "AUTOFLOW_RUNNING_TIMEOUT", secrets_dir) or "86400"
        try:
            timeout = int(timeout_text)
        except ValueError:
            timeout = -1
        if timeout < 1:
            raise ConfigError(
                f"AUTOFLOW_RUNNING_TIMEOUT must be a whole number of seconds (1 or more), got {timeout_text!r}"
            )
        certificate = _lookup(env, "SSL_CERTIFICATE_FILE", secrets_dir)
        if certificate is not None and not Path(certificate).is_file():
            raise ConfigError(f"SSL_CERTIFICATE_FILE {certificate!r} is not a file")
        return cls(
            inputs_dir=inputs,
            outputs_dir=outputs,
            home=home,
            db_uri=uri,
            flowapi_url=(_lookup(env, "FLOWAPI_URL", secrets_dir) or DEFAULT_FLOWAPI_URL).rstrip(
                "/"
            ),
            flowapi_token=_lookup(env, "FLOWAPI_TOKEN", secrets_dir),
            ssl_certificate=certificate,
            log_level=level,
            running_timeout=timeout,
        )

    @property
    def notebooks_dir(self) -> Path:
        return self.outputs_dir / "notebooks"

    @property
    def reports_dir(self) -> Path:
        return self.outputs_dir / "reports"

    @property
    def workflows_file(self) -> Path:
        return self.inputs_dir / "workflows.yml"

    def notebook_env(self) -> dict[str, str]:
        """What a notebook's kernel is given besides the parameters: FlowKit's notebooks read the token
        from `FLOWAPI_TOKEN` themselves (also when it came from a secret file)."""
        env = {"FLOWAPI_URL": self.flowapi_url}
        if self.flowapi_token:
            env["FLOWAPI_TOKEN"] = self.flowapi_token
        if self.ssl_certificate:
            env["SSL_CERTIFICATE_FILE"] = self.ssl_certificate
        return env

    def make_dirs(self) -> None:
        """The output folders (FlowKit's start-up step 2)."""
        for folder in (self.notebooks_dir, self.reports_dir):
            folder.mkdir(parents=True, exist_ok=True)


def configure_logging(level: str) -> None:
    """Log to stderr at `level`, timestamps in UTC (FlowKit copies Prefect's format)."""
    formatter = logging.Formatter("[%(asctime)s] %(levelname)s - %(name)s | %(message)s")
    formatter.converter = time.gmtime
    handler = logging.StreamHandler()
    handler.setFormatter(formatter)
    root = logging.getLogger("autoflow")
    root.handlers[:] = [handler]
    root.setLevel(level)
