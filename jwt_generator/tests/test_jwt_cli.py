"""The `generate-jwt` command, through click's CliRunner and as the installed console script."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import jwt
from click.testing import CliRunner
from jwt_support import AUDIENCE, SCOPES, KeyPair, SpecServer

from flowkit_jwt_generator.cli import main, print_token
from flowkit_jwt_generator.jwt import decompress_claims


def _check_universal_token(output: str, keypair: KeyPair, username: str, days: int) -> None:
    token = output.strip()
    assert output == token + "\n" and token.count(".") == 2
    claims = jwt.decode(token, keypair.public_pem, algorithms=["RS256"], audience=AUDIENCE)
    assert claims["sub"] == username
    assert claims["exp"] - claims["iat"] == days * 86400
    assert "iss" not in claims
    assert decompress_claims(claims["user_claims"]) == {"universal_role": SCOPES}


def test_prints_a_universal_token_for_the_server(keypair: KeyPair, spec_server: SpecServer) -> None:
    result = CliRunner().invoke(
        print_token,
        ["--username", "TEST_USER", "--private-key", keypair.private_b64, "--lifetime", "2"]
        + ["--flowapi-url", spec_server.url],
    )
    assert result.exit_code == 0, result.output
    _check_universal_token(result.output, keypair, "TEST_USER", days=2)


def test_private_key_defaults_to_the_environment(keypair: KeyPair, spec_server: SpecServer) -> None:
    result = CliRunner().invoke(
        print_token,
        ["--username", "someone", "--lifetime", "1", "-u", spec_server.url],
        env={"PRIVATE_JWT_SIGNING_KEY": keypair.private_pem.decode()},
    )
    assert result.exit_code == 0, result.output
    _check_universal_token(result.output, keypair, "someone", days=1)


def test_every_option_is_required(keypair: KeyPair, spec_server: SpecServer) -> None:
    complete = {
        "--username": "u",
        "--private-key": keypair.private_b64,
        "--lifetime": "1",
        "--flowapi-url": spec_server.url,
    }
    for missing in complete:
        arguments = [
            part for name, value in complete.items() if name != missing for part in (name, value)
        ]
        result = CliRunner().invoke(print_token, arguments, env={"PRIVATE_JWT_SIGNING_KEY": None})
        assert result.exit_code == 2
        assert f"Missing option '{missing}'" in result.output
    assert spec_server.paths_requested == []


def test_lifetime_must_be_a_whole_number_of_days(keypair: KeyPair) -> None:
    result = CliRunner().invoke(
        print_token,
        ["--username", "u", "--private-key", keypair.private_b64, "--lifetime", "0.5", "-u", "x"],
    )
    assert result.exit_code == 2
    assert "'0.5' is not a valid integer" in result.output


def test_help_lists_the_1_34_options() -> None:
    result = CliRunner().invoke(print_token, ["--help"])
    assert result.exit_code == 0
    for option in ("--username", "--private-key", "--lifetime", "--flowapi-url", "-u"):
        assert option in result.output


def test_console_script_is_installed(keypair: KeyPair, spec_server: SpecServer) -> None:
    (script,) = [e for e in entry_points(group="console_scripts") if e.name == "generate-jwt"]
    assert script.load() is main is print_token

    executable = Path(sys.executable).parent / "generate-jwt"
    completed = subprocess.run(
        [str(executable), "--username", "cli_user", "--lifetime", "1", "-u", spec_server.url],
        env={**os.environ, "PRIVATE_JWT_SIGNING_KEY": keypair.private_b64},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    _check_universal_token(completed.stdout, keypair, "cli_user", days=1)
