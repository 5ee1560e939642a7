"""Strawberry's Django views, answering 400 to a JSON body that is not a GraphQL request.

Strawberry reads a JSON body as an object (one operation) or a list of
objects (a batch); any other JSON value (``null``, ``1``, ``"x"``, ``[1]``)
made its views fail with an ``AttributeError``, a 500. These subclasses
refuse it as Strawberry refuses malformed JSON: 400 with a plain message.
Use them where you would use Strawberry's (``docs/graphql.md``).
"""

from __future__ import annotations

from typing import Any

from strawberry.django.views import AsyncGraphQLView as StrawberryAsyncGraphQLView
from strawberry.django.views import GraphQLView as StrawberryGraphQLView

try:  # where Strawberry's views take it from: cross-web in recent releases, its own module before
    from cross_web import HTTPException
except ImportError:  # pragma: no cover - older Strawberry
    from strawberry.http.exceptions import HTTPException  # type: ignore[attr-defined,no-redef]


class JSONRequestBodyMixin:
    """``parse_json`` that lets only a JSON object, or a list of objects, through."""

    def parse_json(self, data: str | bytes) -> Any:
        parsed = super().parse_json(data)  # type: ignore[misc]  # Strawberry's view, after this mixin
        items = parsed if isinstance(parsed, list) else [parsed]
        if not all(isinstance(item, dict) for item in items):
            raise HTTPException(400, "The request body must be a JSON object or a list of JSON objects")
        return parsed


class GraphQLView(JSONRequestBodyMixin, StrawberryGraphQLView):
    """``strawberry.django.views.GraphQLView`` that answers 400 to a body that is not a GraphQL request."""


class AsyncGraphQLView(JSONRequestBodyMixin, StrawberryAsyncGraphQLView):
    """``strawberry.django.views.AsyncGraphQLView`` that answers 400 to a body that is not a GraphQL request."""
