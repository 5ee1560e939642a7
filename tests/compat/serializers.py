"""The app's ``USER_SERIALIZER``, as django-rest-authtoken's README shows its output (``id``, ``username``)."""

from django.contrib.auth.models import User
from rest_framework import serializers


class UserSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ("id", "username")
