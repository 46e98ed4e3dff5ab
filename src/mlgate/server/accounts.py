"""Users, passwords, API tokens and browser sessions of the team server.

Passwords are kept as salted scrypt hashes; tokens (for the command line and scripts) and
session cookies (for the browser) are random strings kept only as their SHA-256, shown once when
they are made. Each account change and each failed sign-in is an audit event, so the trail says
who could act, since when, and who tried and failed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from mlgate.errors import ConflictError, NotFoundError, ValidationError
from mlgate.registry.audit import append_event
from mlgate.registry.db import Store
from mlgate.registry.models import ApiToken, User

logger = logging.getLogger(__name__)

TOKEN_PREFIX = "mlg_"
MIN_PASSWORD = 12
USER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,99}$")
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
# A token's last use is written at most this often, so reads do not all become writes.
LAST_USED_GRANULARITY = timedelta(minutes=1)
ANONYMOUS = "anonymous"
# Refusals of requests without valid credentials are audited, but at most this many per client
# and minute: beyond that the trail would record a flood rather than attempts. The next recorded
# refusal says how many were left out, and the server's log warns when it starts.
ANONYMOUS_PER_MINUTE = 20
# Sign-in attempts for one user name: after this many failures within the window, further
# attempts are refused without checking the password until the window has passed.
MAX_FAILED_SIGN_INS = 10
SIGN_IN_WINDOW = 15 * 60
MAX_SOURCE = 300


@dataclass(frozen=True)
class Principal:
    """Who a request acts as: the authenticated user, and how they authenticated."""

    name: str
    is_admin: bool
    kind: str
    token_id: int
    raw_token: str | None = None


def hash_password(password: str) -> str:
    """Return a salted scrypt hash of ``password`` with its parameters."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, dklen=32, **_SCRYPT)
    encoded = [base64.b64encode(x).decode("ascii") for x in (salt, digest)]
    return f"scrypt${_SCRYPT['n']}${_SCRYPT['r']}${_SCRYPT['p']}${encoded[0]}${encoded[1]}"


def verify_password(password: str, stored: str | None) -> bool:
    """Return whether ``password`` matches ``stored``; ``False`` for an account without one."""
    if not stored:
        hashlib.scrypt(b"", salt=b"0" * 16, dklen=32, **_SCRYPT)  # same time as a real check
        return False
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            password.encode("utf-8"),
            salt=base64.b64decode(salt),
            dklen=len(expected),
            n=int(n),
            r=int(r),
            p=int(p),
        )
    except ValueError:
        logger.warning("a stored password hash has an unknown format")
        return False
    return scheme == "scrypt" and hmac.compare_digest(actual, expected)


def token_hash(raw: str) -> str:
    """Return the SHA-256 under which a token is stored."""
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def csrf_token(raw_session: str) -> str:
    """Return the form token that belongs to a browser session.

    It is derived from the session's secret, so a page from another site, which cannot read the
    cookie, cannot compute it.
    """
    return hmac.new(raw_session.encode("utf-8"), b"mlgate-csrf", hashlib.sha256).hexdigest()


def check_user_name(name: str) -> str:
    """Return ``name`` if it can be a user name, else raise naming what is allowed."""
    if not USER_NAME.fullmatch(name):
        raise ValidationError(
            f"user name {name[:120]!r} is not allowed; expected 1 to 100 letters, digits, "
            "'_', '.', '@' or '-', starting with a letter or digit"
        )
    return name


class Accounts:
    """The account actions of one store: each writes its rows and its audit event together."""

    def __init__(self, store: Store, session_hours: float = 12.0) -> None:
        self.store = store
        self.session_hours = session_hours
        self._lock = threading.Lock()
        self._refused: dict[tuple[str, str], tuple[int, int, int]] = {}
        self._failed: dict[str, deque[float]] = {}

    # -- users -------------------------------------------------------------------------------

    def create_user(
        self,
        actor: str,
        name: str,
        password: str | None = None,
        *,
        admin: bool = False,
        display_name: str = "",
    ) -> User:
        """Create a user; ``actor`` is whoever made it (a server admin, or the operator)."""
        check_user_name(name)
        hashed = _checked_password(password) if password is not None else None
        with self.store.transaction() as session:
            if _user(session, name) is not None:
                raise ConflictError(f"user '{name}' already exists")
            user = User(
                name=name,
                display_name=display_name.strip()[:200],
                password_hash=hashed,
                is_admin=admin,
                disabled=False,
                created_by=actor,
                created_at=datetime.now(UTC),
            )
            session.add(user)
            append_event(
                session,
                actor=actor,
                action="user.created",
                subject=f"user:{name}",
                payload={"admin": admin, "password": password is not None},
            )
        logger.info("%s created user %s (admin: %s)", actor, name, admin)
        return user

    def set_password(self, actor: str, name: str, password: str) -> None:
        """Replace a user's password and end their browser sessions."""
        hashed = _checked_password(password)
        with self.store.transaction() as session:
            user = _existing_user(session, name)
            user.password_hash = hashed
            _revoke_all(session, user, kind="session")
            append_event(session, actor=actor, action="user.password_set", subject=f"user:{name}")
        logger.info("%s set the password of %s", actor, name)

    def set_disabled(self, actor: str, name: str, disabled: bool) -> None:
        """Disable a user, revoking every token and session they have, or enable them again.

        Enabling does not bring old tokens back: the user needs a new one.
        """
        with self.store.transaction() as session:
            user = _existing_user(session, name)
            user.disabled = disabled
            if disabled:
                _revoke_all(session, user, kind="session")
                _revoke_all(session, user, kind="api")
            action = "user.disabled" if disabled else "user.enabled"
            append_event(session, actor=actor, action=action, subject=f"user:{name}")
        logger.info("%s %s user %s", actor, "disabled" if disabled else "enabled", name)

    def users(self) -> list[User]:
        """Return every user, oldest first."""
        with self.store.transaction() as session:
            return list(session.execute(select(User).order_by(User.id)).scalars())

    def get_user(self, name: str) -> User:
        """Return the user called ``name``."""
        with self.store.transaction() as session:
            return _existing_user(session, name)

    # -- tokens and sessions -------------------------------------------------------------------

    def issue_token(
        self,
        actor: str,
        name: str,
        label: str = "",
        *,
        kind: str = "api",
        days: float | None = None,
    ) -> tuple[ApiToken, str]:
        """Make a token for user ``name``; return its row and the secret, which is never stored."""
        if days is not None and not 0 < days <= 3660:
            raise ValidationError(f"a token lasts more than 0 and at most 3660 days; got {days}")
        raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        with self.store.transaction() as session:
            user = _existing_user(session, name)
            if user.disabled:
                raise ConflictError(f"user '{name}' is disabled; enable them first")
            token = ApiToken(
                user_id=user.id,
                kind=kind,
                label=label.strip()[:200],
                prefix=raw[:12],
                token_hash=token_hash(raw),
                created_at=now,
                expires_at=now + timedelta(days=days) if days is not None else None,
            )
            session.add(token)
            session.flush()
            if kind == "api":
                append_event(
                    session,
                    actor=actor,
                    action="token.created",
                    subject=f"user:{name}",
                    payload={"token": token.id, "prefix": token.prefix, "label": token.label},
                )
        logger.info("%s made %s token %d for %s", actor, kind, token.id, name)
        return token, raw

    def tokens(self, name: str) -> list[ApiToken]:
        """Return the API tokens of user ``name`` (sessions left out), newest first."""
        with self.store.transaction() as session:
            user = _existing_user(session, name)
            stmt = (
                select(ApiToken)
                .where(ApiToken.user_id == user.id, ApiToken.kind == "api")
                .order_by(ApiToken.id.desc())
            )
            return list(session.execute(stmt).scalars())

    def revoke_token(self, actor: str, token_id: int, owner: str | None = None) -> ApiToken:
        """Revoke a token; with ``owner``, only if it belongs to that user."""
        with self.store.transaction() as session:
            token = session.get(ApiToken, token_id)
            user = session.get(User, token.user_id) if token is not None else None
            if token is None or user is None or (owner is not None and user.name != owner):
                raise NotFoundError(f"no token {token_id}" + (f" of {owner}" if owner else ""))
            if token.revoked_at is None:
                token.revoked_at = datetime.now(UTC)
                append_event(
                    session,
                    actor=actor,
                    action="token.revoked",
                    subject=f"user:{user.name}",
                    payload={"token": token.id, "prefix": token.prefix},
                )
        logger.info("%s revoked token %d", actor, token_id)
        return token

    def authenticate(self, raw: str) -> Principal | None:
        """Return who ``raw`` (a token or a session cookie) belongs to, or ``None``."""
        if not raw.startswith(TOKEN_PREFIX) or len(raw) > 200:
            return None
        now = datetime.now(UTC)
        with self.store.transaction() as session:
            token = session.execute(
                select(ApiToken).where(ApiToken.token_hash == token_hash(raw))
            ).scalar_one_or_none()
            if token is None or token.revoked_at is not None:
                return None
            if token.expires_at is not None and _aware(token.expires_at) <= now:
                return None
            user = session.get(User, token.user_id)
            if user is None or user.disabled:
                return None
            last = token.last_used_at
            if last is None or now - _aware(last) > LAST_USED_GRANULARITY:
                token.last_used_at = now
            return Principal(user.name, user.is_admin, token.kind, token.id, raw)

    def sign_in(self, name: str, password: str, source: str) -> str | None:
        """Open a browser session for ``name``; ``None`` (and an audit event) when refused.

        A name that is no user is recorded as such, not as typed: people type passwords into
        the name field, and the trail is kept for years.
        """
        with self.store.transaction() as session:
            user = _user(session, name) if USER_NAME.fullmatch(name) else None
            stored = user.password_hash if user is not None else None
        subject = f"user:{name}" if user is not None else "user:(no such user)"
        if self._too_many_failures(name):
            reason = f"more than {MAX_FAILED_SIGN_INS} failed sign-ins in 15 minutes"
            self.record_refusal(ANONYMOUS, "login.failed", subject, reason, source)
            return None
        if user is None or user.disabled or not verify_password(password, stored):
            reason = (
                "disabled account" if user is not None and user.disabled else "bad credentials"
            )
            self._count_failure(name)
            self.record_refusal(ANONYMOUS, "login.failed", subject, reason, source)
            return None
        return self.open_session(name, source, via="password")

    def _too_many_failures(self, name: str) -> bool:
        with self._lock:
            recent = self._failed.get(name)
            while recent and recent[0] < time.monotonic() - SIGN_IN_WINDOW:
                recent.popleft()
            return recent is not None and len(recent) >= MAX_FAILED_SIGN_INS

    def _count_failure(self, name: str) -> None:
        with self._lock:
            self._failed.setdefault(name, deque()).append(time.monotonic())
            if len(self._failed) > 10_000:  # forget the oldest names rather than grow forever
                self._failed.pop(next(iter(self._failed)))

    def open_session(self, name: str, source: str, via: str) -> str:
        """Open a browser session for ``name``, who proved who they are ``via`` some means.

        The password form calls this once the password matched; a single sign-on route (an
        OpenID Connect callback that verified the provider's ID token and mapped its claim to
        an mlgate user) calls it the same way. Roles, CSRF and the trail follow from the
        session alone.
        """
        _, raw = self.issue_token(
            name, name, "browser", kind="session", days=self.session_hours / 24
        )
        with self.store.transaction() as session:
            append_event(
                session, actor=name, action="login", subject=f"user:{name}", payload={"via": via}
            )
        logger.info("%s signed in by %s from %s", name, via, source)
        return raw

    def sign_out(self, principal: Principal) -> None:
        """End the browser session ``principal`` came with."""
        with self.store.transaction() as session:
            token = session.get(ApiToken, principal.token_id)
            if token is not None and token.revoked_at is None:
                token.revoked_at = datetime.now(UTC)

    def record_refusal(
        self, actor: str, action: str, subject: str, reason: str, source: str
    ) -> None:
        """Audit a refused request: no credentials, bad ones, or a missing permission."""
        payload: dict[str, object] = {"reason": reason, "source": source[:MAX_SOURCE]}
        if actor == ANONYMOUS:
            left_out = self._anonymous_allowance(action, source)
            if left_out is None:
                return
            if left_out:
                payload["left_out_before"] = left_out
        with self.store.transaction() as session:
            append_event(
                session, actor=actor, action=action, subject=subject[:200], payload=payload
            )
        logger.info("refused %s on %s for %s: %s", action, subject[:200], actor, reason)

    def _anonymous_allowance(self, action: str, source: str) -> int | None:
        """Return how many refusals were left out before this one, or ``None`` to leave it out."""
        client = source.rsplit(" from ", 1)[-1]
        minute = int(time.monotonic() // 60)
        with self._lock:
            start, recorded, left_out = self._refused.get((action, client), (minute, 0, 0))
            if start != minute:
                start, recorded = minute, 0
            if recorded >= ANONYMOUS_PER_MINUTE:
                if left_out == 0:
                    logger.warning(
                        "more than %d %s from %s in a minute; recording no more this minute",
                        ANONYMOUS_PER_MINUTE,
                        action,
                        client,
                    )
                self._refused[(action, client)] = (start, recorded, left_out + 1)
                return None
            self._refused[(action, client)] = (start, recorded + 1, 0)
            if len(self._refused) > 10_000:
                self._refused.pop(next(iter(self._refused)))
            return left_out


def _checked_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise ValidationError(
            f"a password needs at least {MIN_PASSWORD} characters; got {len(password)}"
        )
    return hash_password(password)


def _user(session: Session, name: str) -> User | None:
    return session.execute(select(User).where(User.name == name)).scalar_one_or_none()


def _existing_user(session: Session, name: str) -> User:
    user = _user(session, name)
    if user is None:
        raise NotFoundError(f"no user '{name[:100]}'", hint="mlgate user add NAME creates one")
    return user


def _revoke_all(session: Session, user: User, kind: str) -> None:
    now = datetime.now(UTC)
    stmt = select(ApiToken).where(
        ApiToken.user_id == user.id, ApiToken.kind == kind, ApiToken.revoked_at.is_(None)
    )
    for token in session.execute(stmt).scalars():
        token.revoked_at = now


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
