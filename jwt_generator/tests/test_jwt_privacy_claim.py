"""The `privacy` claim (differential-privacy limits, issue 21): generate_token and generate-jwt mint it on request
and leave FlowKit's claims alone otherwise."""

from __future__ import annotations

import datetime

import jwt
from click.testing import CliRunner
from jwt_support import AUDIENCE, KeyPair, SpecServer

from flowkit_jwt_generator import generate_token, load_private_key
from flowkit_jwt_generator.cli import print_token

LIMITS = {"max_epsilon_per_query": 0.5, "epsilon_budget": 2.0}


def _claims(token: str, keypair: KeyPair) -> dict:
    return jwt.decode(token, keypair.public_pem, algorithms=["RS256"], audience=AUDIENCE)


def test_generate_token_carries_the_privacy_claim_only_when_asked(keypair: KeyPair) -> None:
    key = load_private_key(keypair.private_b64)
    common = dict(
        flowapi_identifier=AUDIENCE,
        username="analyst",
        private_key=key,
        lifetime=datetime.timedelta(minutes=5),
        roles={"viewer": ["get_result"]},
    )
    assert _claims(generate_token(**common, privacy=LIMITS), keypair)["privacy"] == LIMITS
    assert "privacy" not in _claims(generate_token(**common), keypair)


def test_cli_mints_the_privacy_claim(keypair: KeyPair, spec_server: SpecServer) -> None:
    base = ["--username", "u", "--private-key", keypair.private_b64, "--lifetime", "1"]
    base += ["-u", spec_server.url]
    result = CliRunner().invoke(
        print_token, base + ["--max-epsilon-per-query", "0.5", "--epsilon-budget", "2"]
    )
    assert result.exit_code == 0, result.output
    assert _claims(result.output.strip(), keypair)["privacy"] == LIMITS
    half = CliRunner().invoke(print_token, base + ["--epsilon-budget", "2"])
    assert half.exit_code == 2
    assert "both --max-epsilon-per-query and --epsilon-budget" in half.output
    negative = CliRunner().invoke(
        print_token, base + ["--max-epsilon-per-query", "0", "--epsilon-budget", "2"]
    )
    assert negative.exit_code == 2
