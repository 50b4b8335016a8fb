"""The `generate-jwt` command: print a token granting every scope a running FlowAPI publishes.

The audience and the scope list are read from the server's OpenAPI spec, so the token works
against exactly that server. All the scopes go into one role, `universal_role`.
"""

from __future__ import annotations

import datetime

import click

from flowkit_jwt_generator.jwt import (
    generate_token,
    get_all_claims_from_flowapi,
    get_audience_from_flowapi,
    load_private_key,
)

__all__ = ["main", "print_token"]

UNIVERSAL_ROLE = "universal_role"


@click.command()
@click.option("--username", type=str, required=True, help="Whom the token identifies (its sub).")
@click.option(
    "--private-key",
    type=str,
    envvar="PRIVATE_JWT_SIGNING_KEY",
    required=True,
    help="RSA private key to sign with, PEM text or base64 of it "
    "[default: $PRIVATE_JWT_SIGNING_KEY].",
)
@click.option("--lifetime", type=int, required=True, help="How many days the token stays valid.")
@click.option(
    "--flowapi-url",
    "-u",
    type=str,
    required=True,
    help="Base URL of the FlowAPI server the token is for, e.g. http://localhost:9090.",
)
@click.option(
    "--max-epsilon-per-query",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Ours: the privacy claim's most epsilon one query may spend (with --epsilon-budget).",
)
@click.option(
    "--epsilon-budget",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Ours: the privacy claim's total epsilon budget (with --max-epsilon-per-query).",
)
def print_token(
    username: str,
    private_key: str,
    lifetime: int,
    flowapi_url: str,
    max_epsilon_per_query: float | None = None,
    epsilon_budget: float | None = None,
) -> None:
    """Print a FlowAPI access token that holds every scope the server offers.

    Example:

    \b
        generate-jwt --username analyst --lifetime 1 -u http://localhost:9090

    With --max-epsilon-per-query and --epsilon-budget the token also carries the `privacy` claim
    a server in the differential-privacy release mode needs.
    """
    if (max_epsilon_per_query is None) != (epsilon_budget is None):
        raise click.UsageError(
            "Give both --max-epsilon-per-query and --epsilon-budget, or neither."
        )
    privacy = (
        {"max_epsilon_per_query": max_epsilon_per_query, "epsilon_budget": epsilon_budget}
        if max_epsilon_per_query is not None and epsilon_budget is not None
        else None
    )
    token = generate_token(
        flowapi_identifier=get_audience_from_flowapi(flowapi_url),
        username=username,
        private_key=load_private_key(private_key),
        lifetime=datetime.timedelta(days=lifetime),
        roles={UNIVERSAL_ROLE: get_all_claims_from_flowapi(flowapi_url)},
        privacy=privacy,
    )
    click.echo(token)


# The console script's name for the command; FlowKit 1.34 points `generate-jwt` at print_token.
main = print_token
