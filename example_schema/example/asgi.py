"""ASGI: HTTP through Django, GraphQL subscriptions over WebSocket with the token consumer."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example.settings")
django_application = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import re_path  # noqa: E402

from gql_authtoken.graphql.channels import TokenAuthGraphQLWSConsumer  # noqa: E402

from .schema import schema  # noqa: E402

application = ProtocolTypeRouter({
    "http": django_application,
    "websocket": URLRouter([re_path(r"^graphql/$", TokenAuthGraphQLWSConsumer.as_asgi(schema=schema))]),
})
