from __future__ import annotations

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
