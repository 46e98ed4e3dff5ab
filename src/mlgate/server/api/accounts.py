"""Accounts: who am I, users (server admins), and API tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, Field

from mlgate.errors import PolicyViolation
from mlgate.server.accounts import Principal
from mlgate.server.api.schemas import ERRORS
from mlgate.server.auth import User, accounts, projects, source

router = APIRouter(tags=["accounts"], responses=ERRORS)
# A token's number as the store keeps it: a positive 64-bit integer.
TokenId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The token's number.")]


class Me(BaseModel):
    """The authenticated user and their roles per project."""

    name: str
    is_admin: bool
    roles: dict[str, list[str]]


class NewUser(BaseModel):
    """A user to create; without a password they can only use tokens."""

    name: str = Field(min_length=1, max_length=100)
    password: str | None = Field(default=None, min_length=12, max_length=1000)
    admin: bool = False
    display_name: str = Field(default="", max_length=200)


class UserOut(BaseModel):
    """A user as listed (never their password)."""

    name: str
    display_name: str
    is_admin: bool
    disabled: bool
    created_by: str
    created_at: datetime


class NewToken(BaseModel):
    """A token to make for the caller."""

    label: str = Field(default="", max_length=200)
    days: float | None = Field(default=None, gt=0, le=3660)


class TokenOut(BaseModel):
    """A token as listed: its prefix, never the secret."""

    id: int
    label: str
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class IssuedToken(TokenOut):
    """A new token; ``token`` is shown this once and stored only as a hash."""

    token: str


def _require_admin(request: Request, user: Principal, doing: str) -> None:
    if user.is_admin:
        return
    accounts(request).record_refusal(
        user.name, "account.refused", "users", f"{doing} needs a server admin", source(request)
    )
    raise PolicyViolation(f"{user.name} may not {doing}: it needs a server admin")


@router.get("/me", response_model=Me)
def me(request: Request, user: User) -> Me:
    """Return who the token belongs to and their roles."""
    held = projects(request).roles(user.name)
    return Me(
        name=user.name,
        is_admin=user.is_admin,
        roles={p: sorted(r) for p, r in sorted(held.items())},
    )


@router.get("/users", response_model=list[UserOut])
def list_users(request: Request, user: User) -> list[UserOut]:
    """List the server's users (server admins only)."""
    _require_admin(request, user, "list users")
    return [UserOut.model_validate(u, from_attributes=True) for u in accounts(request).users()]


@router.post("/users", response_model=UserOut, status_code=201)
def create_user(request: Request, user: User, body: NewUser) -> UserOut:
    """Create a user (server admins only)."""
    _require_admin(request, user, "create users")
    created = accounts(request).create_user(
        user.name, body.name, body.password, admin=body.admin, display_name=body.display_name
    )
    return UserOut.model_validate(created, from_attributes=True)


@router.get("/tokens", response_model=list[TokenOut])
def list_tokens(request: Request, user: User) -> list[TokenOut]:
    """List the caller's API tokens (prefixes only)."""
    rows = accounts(request).tokens(user.name)
    return [TokenOut.model_validate(t, from_attributes=True) for t in rows]


@router.post("/tokens", response_model=IssuedToken, status_code=201)
def create_token(request: Request, user: User, body: NewToken) -> IssuedToken:
    """Make an API token for the caller; the secret is in this answer only."""
    token, raw = accounts(request).issue_token(user.name, user.name, body.label, days=body.days)
    return IssuedToken(
        **TokenOut.model_validate(token, from_attributes=True).model_dump(), token=raw
    )


@router.delete("/tokens/{token_id}", response_model=TokenOut)
def revoke_token(request: Request, user: User, token_id: TokenId) -> TokenOut:
    """Revoke one of the caller's tokens."""
    token = accounts(request).revoke_token(user.name, token_id, owner=user.name)
    return TokenOut.model_validate(token, from_attributes=True)
