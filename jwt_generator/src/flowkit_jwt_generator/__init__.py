"""Test-token tools for FlowKit-compatible APIs, interface-compatible with flowkit-jwt-generator 1.34.

`generate_token` signs an RS256 access token holding roles of scopes; `load_private_key` and
`load_public_key` read PEM keys (optionally base64-wrapped); `generate_keypair` makes a key pair
for tests; `get_all_claims_from_flowapi` lists every scope a running FlowAPI publishes. The
`generate-jwt` command (`flowkit_jwt_generator.cli`) prints an all-access token, and the pytest
plugin (`flowkit_jwt_generator.fixtures`) provides `access_token_builder`,
`universal_access_token` and key fixtures.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from flowkit_jwt_generator.jwt import (
    generate_keypair,
    generate_token,
    get_all_claims_from_flowapi,
    load_private_key,
    load_public_key,
)

__all__ = [
    "__version__",
    "generate_keypair",
    "generate_token",
    "get_all_claims_from_flowapi",
    "load_private_key",
    "load_public_key",
]

try:
    __version__ = version("flowkit-jwt-generator")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
