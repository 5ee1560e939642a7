from __future__ import annotations

from typing import Any

from django.core.validators import ProhibitNullCharactersValidator
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers
from rest_framework.validators import ProhibitSurrogateCharactersValidator


class InputField(serializers.CharField):
    """A string argument as the client sent it, for the core to check.

    The core checks every string argument once (``gql_authtoken.inputs``:
    length, NUL, unpaired surrogates) and normalises identities, the same for
    GraphQL, and answers a refusal as the operation answers any wrong value. So
    this field neither trims nor refuses anything DRF's ``CharField`` would
    (no ``max_length``, no NUL or surrogate validators): REST must accept and
    refuse exactly what GraphQL does. It requires a string, as GraphQL's
    ``String`` does: a JSON number or boolean is ``invalid`` (DRF's ``CharField``
    would read ``1`` as ``"1"``), and refuses blanks unless ``allow_blank``.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(trim_whitespace=False, **kwargs)
        self.validators = [
            validator for validator in self.validators
            if not isinstance(validator, (ProhibitNullCharactersValidator, ProhibitSurrogateCharactersValidator))
        ]

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class LoginSerializer(serializers.Serializer):
    """Shape only; the core checks the values (a refused one: wrong credentials / unknown client)."""

    username = InputField(label=_("Username"))
    password = InputField(label=_("Password"), style={"input_type": "password"})
    client = InputField(label=_("Client"), required=False, allow_blank=True, allow_null=True)


class RegisterSerializer(serializers.Serializer):
    """Shape only; every rule (input checks, uniqueness, password validators...) is the core's."""

    # Not required here: the core reports missing fields, after answering 404
    # while registration is disabled.
    username = InputField(label=_("Username"), required=False, allow_blank=True)
    password = InputField(label=_("Password"), required=False, allow_blank=True, style={"input_type": "password"})
    email = InputField(label=_("Email"), required=False, allow_blank=True, allow_null=True)


# Passwords (API.md §10). Not required here: the core reports missing values
# as it reports any wrong one (a field error, an invalid link, success).
class PasswordChangeSerializer(serializers.Serializer):
    """Shape only; the core checks the old password and validates the new one."""

    old_password = InputField(label=_("Old password"), required=False, allow_blank=True,
                              style={"input_type": "password"})
    new_password = InputField(label=_("New password"), required=False, allow_blank=True,
                              style={"input_type": "password"})


class PasswordResetSerializer(serializers.Serializer):
    email = InputField(label=_("Email"), required=False, allow_blank=True)


class PasswordResetConfirmSerializer(serializers.Serializer):
    token = InputField(label=_("Token"), required=False, allow_blank=True)
    new_password = InputField(label=_("New password"), required=False, allow_blank=True,
                              style={"input_type": "password"})


class SessionSerializer(serializers.Serializer):
    """A core ``Session``; the same fields as the GraphQL ``Session`` type, snake_case."""

    id = serializers.CharField()
    client = serializers.CharField(allow_null=True)
    created = serializers.DateTimeField()
    expiry = serializers.DateTimeField(allow_null=True)
    last_used = serializers.DateTimeField(allow_null=True)
    user_agent = serializers.CharField(allow_null=True)
    ip_address = serializers.CharField(allow_null=True)
    is_current = serializers.BooleanField()
    # django-rest-durin's session fields, for its clients (the rules are the core's).
    has_expired = serializers.BooleanField()
    expires_in_str = serializers.CharField(
        source="expires_in", help_text='The lifetime from creation to expiry in words ("1 day"), or "N/A".')


# Response shapes, for the OpenAPI description.
class TokenResponseSerializer(serializers.Serializer):
    token = serializers.CharField(required=False,
                                  help_text="Absent after a login whose token went into the AUTH_COOKIE cookie.")
    expiry = serializers.DateTimeField(allow_null=True)


class ExpirySerializer(serializers.Serializer):
    expiry = serializers.DateTimeField(allow_null=True)


class RotatedTokenSerializer(serializers.Serializer):
    token = serializers.CharField(required=False, help_text="Absent when the token went into the AUTH_COOKIE cookie.")


class CsrfTokenSerializer(serializers.Serializer):
    csrfToken = serializers.CharField(help_text="Send it back in the X-CSRFToken header.")  # noqa: N815


class SuccessSerializer(serializers.Serializer):
    success = serializers.BooleanField()


class RevokedSessionsSerializer(serializers.Serializer):
    revoked_sessions = serializers.IntegerField()


class ChangeEmailSerializer(serializers.Serializer):
    """Shape only; the core checks the password and the address (``accounts.email_change``)."""

    # Not required here: the core reports missing fields, as GraphQL gets them.
    password = InputField(label=_("Password"), required=False, allow_blank=True, style={"input_type": "password"})
    new_email = InputField(label=_("New email"), required=False, allow_blank=True)


class ChangeEmailResponseSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    email_confirmation_required = serializers.BooleanField()
