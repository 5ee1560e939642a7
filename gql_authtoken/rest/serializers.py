from __future__ import annotations

from typing import Any

from django.utils import timezone
from django.utils.timesince import timesince
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers


class LoginSerializer(serializers.Serializer):
    username = serializers.CharField(label=_("Username"), max_length=254)
    password = serializers.CharField(label=_("Password"), max_length=4096, trim_whitespace=False,
                                     style={"input_type": "password"})
    client = serializers.CharField(label=_("Client"), max_length=64, required=False, allow_blank=True,
                                   allow_null=True)


class RegisterSerializer(serializers.Serializer):
    """Shape only; every rule (uniqueness, password validators...) is the core's."""

    # Not required here: the core reports missing fields, after answering 404
    # while registration is disabled.
    username = serializers.CharField(label=_("Username"), max_length=254, required=False, allow_blank=True)
    password = serializers.CharField(label=_("Password"), max_length=4096, trim_whitespace=False, required=False,
                                     allow_blank=True, style={"input_type": "password"})
    email = serializers.CharField(label=_("Email"), max_length=254, required=False, allow_blank=True,
                                  allow_null=True)


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
    # django-rest-durin's session fields, for its clients.
    has_expired = serializers.SerializerMethodField()
    expires_in_str = serializers.SerializerMethodField()

    def get_has_expired(self, session: Any) -> bool:
        return session.expiry is not None and session.expiry <= timezone.now()

    def get_expires_in_str(self, session: Any) -> str:
        """The token's whole lifetime in words ("1 day"), "N/A" without expiry, as durin words it."""
        if session.expiry is None:
            return "N/A"
        return timesince(session.created, now=session.expiry)


# Response shapes, for the OpenAPI description.
class TokenResponseSerializer(serializers.Serializer):
    token = serializers.CharField()
    expiry = serializers.DateTimeField(allow_null=True)


class ExpirySerializer(serializers.Serializer):
    expiry = serializers.DateTimeField(allow_null=True)


class RotatedTokenSerializer(serializers.Serializer):
    token = serializers.CharField()


class SuccessSerializer(serializers.Serializer):
    success = serializers.BooleanField()
