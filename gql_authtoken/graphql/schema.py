"""``AuthQuery`` and ``AuthMutation``: thin resolvers over the core.

No ``from __future__ import annotations`` here: the types are built inside
``make_auth_types`` and Strawberry must see the real classes, not names.
"""


from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

import strawberry
import strawberry_django
from strawberry.types import Info
from strawberry_django.fields.types import OperationInfo

from .. import clients, cookies, login, sessions, tokens
from ..accounts import email_change, passwords, registration
from ..exceptions import AuthTokenError
from ..middleware import own_token_revoked, session_revoked
from .context import http_request, request_token, request_user
from .errors import as_operation_info, graphql_error
from .types import (
    ChangeEmailResult,
    ChangePasswordResult,
    LogoutResult,
    RefreshResult,
    ResendResult,
    ResetPasswordResult,
    SendPasswordResetEmailResult,
    Session,
    User,
)


@dataclass(frozen=True)
class AuthTypes:
    query: type
    mutation: type


def make_auth_types(*, user_type: type = User) -> AuthTypes:
    """Build ``AuthQuery`` / ``AuthMutation`` whose ``User`` is ``user_type``.

    ``user_type`` is any Strawberry type (strawberry-django's or plain) that
    resolves fields from a user model instance.
    """

    @strawberry.type
    class LoginResult:
        token: str | None = strawberry.field(
            description="The new token; null when it was set as the AUTH_COOKIE cookie instead.")
        expiry: datetime | None
        user: user_type  # type: ignore[valid-type]
        session: Session

    @strawberry.type
    class RegisterResult:
        success: bool
        user: user_type  # type: ignore[valid-type]
        email_confirmation_required: bool

    @strawberry.type
    class ConfirmEmailResult:
        success: bool
        user: user_type  # type: ignore[valid-type]

    LoginPayload = Annotated[LoginResult | OperationInfo, strawberry.union("LoginPayload")]
    RegisterPayload = Annotated[RegisterResult | OperationInfo, strawberry.union("RegisterPayload")]
    ConfirmEmailPayload = Annotated[ConfirmEmailResult | OperationInfo, strawberry.union("ConfirmEmailPayload")]
    ResendConfirmationEmailPayload = Annotated[
        ResendResult | OperationInfo, strawberry.union("ResendConfirmationEmailPayload")
    ]
    LogoutPayload = Annotated[LogoutResult | OperationInfo, strawberry.union("LogoutPayload")]
    LogoutAllPayload = Annotated[LogoutResult | OperationInfo, strawberry.union("LogoutAllPayload")]
    RevokeSessionPayload = Annotated[LogoutResult | OperationInfo, strawberry.union("RevokeSessionPayload")]
    RefreshPayload = Annotated[RefreshResult | OperationInfo, strawberry.union("RefreshPayload")]
    # Passwords (API.md §10)
    ChangePasswordPayload = Annotated[ChangePasswordResult | OperationInfo, strawberry.union("ChangePasswordPayload")]
    SendPasswordResetEmailPayload = Annotated[
        SendPasswordResetEmailResult | OperationInfo, strawberry.union("SendPasswordResetEmailPayload")
    ]
    ResetPasswordPayload = Annotated[ResetPasswordResult | OperationInfo, strawberry.union("ResetPasswordPayload")]
    ChangeEmailPayload = Annotated[ChangeEmailResult | OperationInfo, strawberry.union("ChangeEmailPayload")]

    @strawberry.type
    class AuthQuery:
        @strawberry_django.field(description="The authenticated user, or null.")
        def me(self, info: Info) -> user_type | None:  # type: ignore[valid-type]
            try:
                user, _ = request_user(info)
            except AuthTokenError:
                return None
            return user

        @strawberry_django.field(description="The session of this request's token, or null.")
        def current_session(self, info: Info) -> Session | None:
            try:
                token = request_token(info)
            except AuthTokenError:
                return None
            return Session.from_core(sessions.Session.from_token(token, current=token))

        @strawberry_django.field(description="The user's active sessions, newest first.")
        def sessions(self, info: Info) -> list[Session]:
            try:
                user, token = request_user(info)
            except AuthTokenError as error:
                raise graphql_error(error) from error
            return [Session.from_core(s) for s in sessions.list_sessions(user, current=token)]

    @strawberry.type
    class AuthMutation:
        @strawberry_django.mutation(description="Log in and receive a new token.")
        @as_operation_info
        def login(
            self, info: Info, username: str, password: str, client: str | None = None
        ) -> LoginPayload:
            request = http_request(info)
            client_obj = clients.get_client(client)
            cookies.guard_login(request, client_obj)
            issued = login.login(request, username=username, password=password, client=client_obj)
            session = sessions.Session.from_token(issued.instance, current=issued.instance)
            return LoginResult(
                token=cookies.hand_over(request, issued),
                expiry=issued.expiry,
                user=issued.instance.user,
                session=Session.from_core(session),
            )

        @strawberry_django.mutation(description="Revoke this request's token.")
        @as_operation_info
        def logout(self, info: Info) -> LogoutPayload:
            request = http_request(info)
            revoked = tokens.logout(request, request_token(info))
            own_token_revoked(request)
            return LogoutResult(revoked_sessions=revoked)

        @strawberry_django.mutation(description="Revoke every token of the user.")
        @as_operation_info
        def logout_all(self, info: Info) -> LogoutAllPayload:
            user, _ = request_user(info)
            request = http_request(info)
            revoked = tokens.logout_all(request, user)
            own_token_revoked(request)
            return LogoutResult(revoked_sessions=revoked)

        @strawberry_django.mutation(description="Revoke one of the user's sessions by id.")
        @as_operation_info
        def revoke_session(self, info: Info, id: strawberry.ID) -> RevokeSessionPayload:
            user, token = request_user(info)
            revoked = sessions.revoke_session(user, id)
            session_revoked(http_request(info), token, id)
            return LogoutResult(revoked_sessions=revoked)

        @strawberry_django.mutation(description="Extend this token; with rotate, also replace it.")
        @as_operation_info
        def refresh(self, info: Info, rotate: bool | None = False) -> RefreshPayload:
            token = request_token(info)
            expiry = tokens.refresh_token(token)
            cookies.extend(http_request(info), token)
            new_token = cookies.hand_over(http_request(info), tokens.rotate_token(token)) if rotate else None
            return RefreshResult(expiry=expiry, token=new_token)

        @strawberry_django.mutation(description="Create an account (when registration is enabled).")
        @as_operation_info
        def register(
            self, info: Info, username: str, password: str, email: str | None = None
        ) -> RegisterPayload:
            result = registration.register(http_request(info), username=username, password=password, email=email)
            return RegisterResult(
                success=True, user=result.user, email_confirmation_required=result.email_confirmation_required
            )

        @strawberry_django.mutation(description="Confirm an email address with the token from the mail.")
        @as_operation_info
        def confirm_email(self, info: Info, token: str) -> ConfirmEmailPayload:
            return ConfirmEmailResult(success=True, user=registration.confirm_email(http_request(info), token))

        @strawberry_django.mutation(description="Mail a new confirmation link; always succeeds.")
        @as_operation_info
        def resend_confirmation_email(
            self, info: Info, email: str
        ) -> ResendConfirmationEmailPayload:
            registration.resend_confirmation_email(http_request(info), email)
            return ResendResult(success=True)

        # --- passwords (API.md §10) ---

        @strawberry_django.mutation(description="Change the password; every other session is revoked.")
        @as_operation_info
        def change_password(self, info: Info, old_password: str, new_password: str) -> ChangePasswordPayload:
            token = request_token(info)
            revoked = passwords.change_password(http_request(info), token.user, token,
                                                old_password=old_password, new_password=new_password)
            return ChangePasswordResult(success=True, revoked_sessions=revoked)

        @strawberry_django.mutation(description="Mail a password reset link; always succeeds.")
        @as_operation_info
        def send_password_reset_email(self, info: Info, email: str) -> SendPasswordResetEmailPayload:
            passwords.send_password_reset_email(http_request(info), email)
            return SendPasswordResetEmailResult(success=True)

        @strawberry_django.mutation(description="Set a new password with the token from a reset mail.")
        @as_operation_info
        def reset_password(self, info: Info, token: str, new_password: str) -> ResetPasswordPayload:
            revoked = passwords.reset_password(http_request(info), token, new_password)
            return ResetPasswordResult(success=True, revoked_sessions=revoked)

        # --- email change (API.md §10) ---

        @strawberry_django.mutation(description="Change the email address (with confirmation: once its link is used).")
        @as_operation_info
        def change_email(self, info: Info, password: str, new_email: str) -> ChangeEmailPayload:
            token = request_token(info)  # a token, as changePassword: never a Django session login
            result = email_change.change_email(http_request(info), token.user, password=password,
                                               new_email=new_email, token=token)
            return ChangeEmailResult(success=True, email_confirmation_required=result.email_confirmation_required)

    return AuthTypes(query=AuthQuery, mutation=AuthMutation)


_default = make_auth_types()
AuthQuery: Any = _default.query
AuthMutation: Any = _default.mutation
