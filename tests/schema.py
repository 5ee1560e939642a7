"""A schema as a user would write it: the package's types merged with the app's own."""

import asyncio
from collections.abc import AsyncGenerator
from typing import Annotated

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaxTokensLimiter
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types
from strawberry_django.fields.types import OperationInfo

from gql_authtoken.graphql import (
    AllowClients,
    AuthMutation,
    AuthQuery,
    DenyClients,
    IsTokenAuthenticated,
    Schema,
    current_user,
)


@strawberry.type
class Secret:
    value: str


SecretPayload = Annotated[Secret | OperationInfo, strawberry.union("SecretPayload")]


@strawberry.type
class AppQuery:
    @strawberry.field(extensions=[IsTokenAuthenticated()])
    def secret(self, info: strawberry.Info) -> str:
        return f"secret of {info.context.request.user.get_username()}"

    @strawberry.field(extensions=[AllowClients("web")])
    def web_only(self) -> str:
        return "web"

    @strawberry.field(extensions=[DenyClients("cli")])
    def not_cli(self) -> str:
        return "not cli"

    @strawberry.field(extensions=[IsTokenAuthenticated()])
    async def async_secret(self, info: strawberry.Info) -> str:
        user = await info.context.request.auser()
        return f"async secret of {user.get_username()}"

    @strawberry.field
    def plain_whoami(self, info: strawberry.Info) -> str:
        """A plain sync resolver with no permission: under AsyncGraphQLView it runs in the event
        loop, where the token must already have been looked up (no query allowed there)."""
        return current_user(info).get_username()

    @strawberry.field
    def refused_on_purpose(self) -> str:
        """An app's deliberate GraphQLError: its message reaches the client."""
        raise GraphQLError("Refused on purpose.")


@strawberry.type
class AppMutation:
    @strawberry.mutation(extensions=[IsTokenAuthenticated()])
    def touch_secret(self) -> SecretPayload:
        return Secret(value="touched")

    @strawberry.mutation
    def broken(self, password: str) -> str:
        """A bug: its text must reach neither the client nor, with the password, the log."""
        raise RuntimeError("internal detail the client must not see")


@strawberry.type
class Subscription:
    @strawberry.subscription(extensions=[IsTokenAuthenticated()])
    async def countdown(self, info: strawberry.Info, start: int = 3) -> AsyncGenerator[str, None]:
        user = info.context["request"].scope["user"]
        for number in range(start, 0, -1):
            yield f"{user.get_username()}: {number}"
            await asyncio.sleep(0.01)

    @strawberry.subscription(extensions=[IsTokenAuthenticated()])
    async def ticks(self, interval: float = 0.2, count: int = 1000) -> AsyncGenerator[int, None]:
        """A slow, long stream: one number every ``interval`` seconds."""
        for number in range(count):
            yield number
            await asyncio.sleep(interval)


Query = merge_types("Query", (AuthQuery, AppQuery))
Mutation = merge_types("Mutation", (AuthMutation, AppMutation))
schema = Schema(query=Query, mutation=Mutation, subscription=Subscription)
# The same schema with operation batching on, to prove a batch cannot multiply attempts.
batch_schema = Schema(query=Query, mutation=Mutation, config=StrawberryConfig(batching_config={"max_operations": 50}))
# Batching under a token limit: the middleware parses a batch's operations as Strawberry would.
limited_batch_schema = Schema(query=Query, mutation=Mutation, extensions=[lambda: MaxTokensLimiter(100)],
                              config=StrawberryConfig(batching_config={"max_operations": 50}))
