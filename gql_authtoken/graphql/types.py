"""GraphQL object types. Resolvers receive Django objects; these types only present them."""

from __future__ import annotations

import dataclasses
from datetime import datetime

import strawberry

from .. import sessions


@strawberry.type(name="User", description="The default user type; replace it with make_auth_types(user_type=...).")
class User:
    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(str(self.pk))  # type: ignore[attr-defined]

    @strawberry.field
    def username(self) -> str:
        return self.get_username()  # type: ignore[attr-defined]

    @strawberry.field
    def email(self) -> str | None:
        return getattr(self, self.get_email_field_name(), None) or None  # type: ignore[attr-defined]


@strawberry.type(name="Session", description="An active token, as its user sees it.")
class Session:
    id: strawberry.ID
    client: str | None
    created: datetime
    expiry: datetime | None
    last_used: datetime | None
    user_agent: str | None
    ip_address: str | None
    is_current: bool

    @classmethod
    def from_core(cls, session: sessions.Session) -> Session:
        return cls(**dataclasses.asdict(session))


@strawberry.type
class LogoutResult:
    revoked_sessions: int


@strawberry.type
class RefreshResult:
    expiry: datetime | None
    token: str | None = None


@strawberry.type
class ResendResult:
    success: bool = True
