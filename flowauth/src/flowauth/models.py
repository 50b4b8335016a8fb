"""FlowAuth's tables (FlowKit's roles-era model, reference flowauth_autoflow.md A1), as SQLAlchemy 2 models.

A server (named for the FlowAPI audience it mints tokens for) owns scopes and roles; a role bundles scopes of its
server with lifetime caps; users hold roles; each minted token is kept (encrypted) with the roles it carries.
Times are naive UTC (FlowKit stores local time). Secrets (TOTP keys, tokens) are Fernet-encrypted by the code
that writes them (`crypto.py`); password and backup-code hashes are argon2.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> dt.datetime:
    """Now, as the naive UTC datetime every table stores."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    pass


users_with_roles = Table(
    "users_with_roles",
    Base.metadata,
    Column("user_id", ForeignKey("user.id", ondelete="CASCADE"), primary_key=True),
    Column("role_id", ForeignKey("role.id", ondelete="CASCADE"), primary_key=True),
)

scopes_in_role = Table(
    "scopes_in_role",
    Base.metadata,
    Column("scope_id", ForeignKey("scope.id", ondelete="CASCADE"), primary_key=True),
    Column("role_id", ForeignKey("role.id", ondelete="CASCADE"), primary_key=True),
)

tokens_with_roles = Table(
    "tokens_with_roles",
    Base.metadata,
    Column("token_id", ForeignKey("token_history.id", ondelete="CASCADE"), primary_key=True),
    Column("role_id", ForeignKey("role.id", ondelete="CASCADE"), primary_key=True),
)


class User(Base):
    __tablename__ = "user"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(75), unique=True)
    password_hash: Mapped[str] = mapped_column("_password", Text)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    require_two_factor: Mapped[bool] = mapped_column(Boolean, default=False)

    roles: Mapped[list[Role]] = relationship(
        secondary=users_with_roles, back_populates="users", order_by="Role.id"
    )
    tokens: Mapped[list[TokenHistory]] = relationship(
        back_populates="owner", cascade="all, delete-orphan", passive_deletes=True
    )
    two_factor_auth: Mapped[TwoFactorAuth | None] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )

    @property
    def two_factor_enabled(self) -> bool:
        return self.two_factor_auth is not None and self.two_factor_auth.enabled

    @property
    def two_factor_setup_required(self) -> bool:
        return self.require_two_factor and not self.two_factor_enabled


class TwoFactorAuth(Base):
    __tablename__ = "two_factor_auth"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("user.id", ondelete="CASCADE"), primary_key=True
    )
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    secret_encrypted: Mapped[str] = mapped_column("_secret_key", Text)
    # The time step of the last TOTP code accepted (zero-padded digits, see two_factor.py): that code and
    # earlier ones cannot be replayed inside their window.
    last_code: Mapped[str | None] = mapped_column(String(16), nullable=True)

    user: Mapped[User] = relationship(back_populates="two_factor_auth")
    backups: Mapped[list[TwoFactorBackup]] = relationship(
        back_populates="auth", cascade="all, delete-orphan", passive_deletes=True
    )


class TwoFactorBackup(Base):
    __tablename__ = "two_factor_backup"

    id: Mapped[int] = mapped_column(primary_key=True)
    auth_id: Mapped[int] = mapped_column(ForeignKey("two_factor_auth.user_id", ondelete="CASCADE"))
    code_hash: Mapped[str] = mapped_column("_backup_code", Text)

    auth: Mapped[TwoFactorAuth] = relationship(back_populates="backups")


class Server(Base):
    __tablename__ = "server"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    latest_token_expiry: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    longest_token_life_minutes: Mapped[int] = mapped_column(Integer)

    roles: Mapped[list[Role]] = relationship(
        back_populates="server", cascade="all, delete-orphan", passive_deletes=True
    )
    scopes: Mapped[list[Scope]] = relationship(
        back_populates="server",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="Scope.name",
    )
    tokens: Mapped[list[TokenHistory]] = relationship(
        back_populates="server", cascade="all, delete-orphan", passive_deletes=True
    )

    def next_expiry(self, now: dt.datetime | None = None) -> dt.datetime:
        return _next_expiry(self.latest_token_expiry, self.longest_token_life_minutes, now)


class Role(Base):
    __tablename__ = "role"
    __table_args__ = (UniqueConstraint("name", "server_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(75))
    server_id: Mapped[int] = mapped_column(ForeignKey("server.id", ondelete="CASCADE"))
    latest_token_expiry: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    longest_token_life_minutes: Mapped[int] = mapped_column(Integer)
    # Ours (issue 21): differential-privacy limits, both set or both NULL (flowauth.privacy_limits).
    max_epsilon_per_query: Mapped[float | None] = mapped_column(Float, nullable=True)
    epsilon_budget: Mapped[float | None] = mapped_column(Float, nullable=True)

    server: Mapped[Server] = relationship(back_populates="roles")
    scopes: Mapped[list[Scope]] = relationship(
        secondary=scopes_in_role, back_populates="roles", order_by="Scope.name"
    )
    users: Mapped[list[User]] = relationship(
        secondary=users_with_roles, back_populates="roles", order_by="User.id"
    )

    def next_expiry(self, now: dt.datetime | None = None) -> dt.datetime:
        return _next_expiry(self.latest_token_expiry, self.longest_token_life_minutes, now)


class Scope(Base):
    __tablename__ = "scope"
    __table_args__ = (UniqueConstraint("name", "server_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(512))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    server_id: Mapped[int] = mapped_column(ForeignKey("server.id", ondelete="CASCADE"))

    server: Mapped[Server] = relationship(back_populates="scopes")
    roles: Mapped[list[Role]] = relationship(secondary=scopes_in_role, back_populates="scopes")


class TokenHistory(Base):
    __tablename__ = "token_history"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(75))
    token_encrypted: Mapped[str] = mapped_column("_token", Text)
    expiry: Mapped[dt.datetime] = mapped_column(DateTime)
    created: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    server_id: Mapped[int] = mapped_column(ForeignKey("server.id", ondelete="CASCADE"))

    owner: Mapped[User] = relationship(back_populates="tokens")
    server: Mapped[Server] = relationship(back_populates="tokens")
    roles: Mapped[list[Role]] = relationship(secondary=tokens_with_roles, order_by="Role.name")


class LoginSession(Base):
    """A signed-in session (ours: FlowKit keeps sessions in the cookie alone).

    The session cookie holds a random key; the session counts only while the row keyed by that key's SHA-256
    exists, so signing out, a password change or deleting the user ends every copy of the cookie.
    """

    __tablename__ = "login_session"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    created: Mapped[dt.datetime] = mapped_column(DateTime)
    last_seen: Mapped[dt.datetime] = mapped_column(DateTime, index=True)


class RateCounter(Base):
    """How often something happened in the current window (ours: the sign-in throttle, the minting limit).

    `bucket` says what is counted ("sign-in-user", "mint-user", ...), `subject` for whom; see `ratelimit.py`.
    """

    __tablename__ = "rate_counter"

    bucket: Mapped[str] = mapped_column(String(32), primary_key=True)
    subject: Mapped[str] = mapped_column(String(128), primary_key=True)
    window_start: Mapped[dt.datetime] = mapped_column(DateTime, index=True)
    hits: Mapped[int] = mapped_column(Integer)


def _next_expiry(
    latest: dt.datetime | None, life_minutes: int, now: dt.datetime | None
) -> dt.datetime:
    """min(latest, now + life); just now + life when there is no absolute cap (NULL)."""
    relative = (now or utcnow()) + dt.timedelta(minutes=life_minutes)
    return relative if latest is None else min(latest, relative)
