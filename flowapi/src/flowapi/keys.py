"""Loading the RSA public key that verifies access tokens (PEM text, or base64 of the PEM text)."""

from __future__ import annotations

import base64
import binascii

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey


def load_public_key(key_string: str) -> RSAPublicKey:
    """The RSA public key in `key_string`; ValueError if it is neither PEM nor base64 of PEM, or not RSA."""
    candidates = [key_string.encode()]
    try:
        candidates.append(base64.b64decode(key_string, validate=False))
    except (binascii.Error, ValueError):
        pass
    for pem in candidates:
        try:
            key = serialization.load_pem_public_key(pem)
        except (ValueError, TypeError):
            continue
        if isinstance(key, RSAPublicKey):
            return key
        raise ValueError("The token signing key must be an RSA public key.")
    raise ValueError("Failed to load key.")
