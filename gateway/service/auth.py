"""Bearer-token checks for the HTTP API.

Writes always need one of ``api.tokens``.  Reads are open unless ``api.read_tokens`` is set,
in which case a read token or a write token is needed.  Tokens are compared in constant time
and never logged.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence

from fastapi import HTTPException, Request, status
from pydantic import SecretStr


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _matches(token: str, allowed: Sequence[SecretStr]) -> bool:
    found = False
    for secret in allowed:  # no early exit: the time taken does not tell which token matched
        found |= hmac.compare_digest(token.encode(), secret.get_secret_value().encode())
    return found


class TokenAuth:
    def __init__(self, write_tokens: Sequence[SecretStr], read_tokens: Sequence[SecretStr] | None) -> None:
        self.write_tokens = list(write_tokens)
        self.read_tokens = None if read_tokens is None else list(read_tokens)

    def _unauthorized(self, detail: str) -> HTTPException:
        return HTTPException(status.HTTP_401_UNAUTHORIZED, detail=detail,
                             headers={"WWW-Authenticate": 'Bearer realm="border-gateway"'})

    async def require_write(self, request: Request) -> None:
        token = _bearer(request)
        if token is None:
            raise self._unauthorized("a bearer token is required for writes")
        if _matches(token, self.write_tokens):
            return
        if self.read_tokens and _matches(token, self.read_tokens):
            raise HTTPException(status.HTTP_403_FORBIDDEN, detail="this token may only read")
        raise self._unauthorized("invalid token")

    async def require_read(self, request: Request) -> None:
        if self.read_tokens is None:
            return
        token = _bearer(request)
        if token is None:
            raise self._unauthorized("a bearer token is required")
        if not (_matches(token, self.read_tokens) or _matches(token, self.write_tokens)):
            raise self._unauthorized("invalid token")
