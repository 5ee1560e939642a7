"""The example schema: the app's own notes merged with gql_authtoken's types."""

import asyncio
from collections.abc import AsyncGenerator
from typing import Annotated

import strawberry
import strawberry_django
from asgiref.sync import sync_to_async
from strawberry.extensions import MaxAliasesLimiter, MaxTokensLimiter, QueryDepthLimiter
from strawberry.tools import merge_types
from strawberry_django.fields.types import OperationInfo

from gql_authtoken.graphql import AuthMutation, AuthQuery, IsTokenAuthenticated, Schema, current_user
from notes.models import Note


@strawberry_django.type(Note)
class NoteType:
    id: strawberry.auto
    text: strawberry.auto
    created: strawberry.auto


AddNotePayload = Annotated[NoteType | OperationInfo, strawberry.union("AddNotePayload")]


@strawberry.type
class NotesQuery:
    @strawberry_django.field(extensions=[IsTokenAuthenticated()], description="Your notes, newest first.")
    def my_notes(self, info: strawberry.Info) -> list[NoteType]:
        return list(Note.objects.filter(owner=current_user(info)))  # HTTP and WebSocket alike


@strawberry.type
class NotesMutation:
    @strawberry_django.mutation(extensions=[IsTokenAuthenticated()], description="Write a note.")
    def add_note(self, info: strawberry.Info, text: str) -> AddNotePayload:
        return Note.objects.create(owner=current_user(info), text=text)


@strawberry.type
class Subscription:
    @strawberry.subscription(extensions=[IsTokenAuthenticated()], description="Your note count, every second.")
    async def my_note_count(self, info: strawberry.Info, times: int = 5) -> AsyncGenerator[int, None]:
        user = await sync_to_async(current_user)(info)  # the connection_init token's user
        for _ in range(max(0, min(times, 60))):
            yield await sync_to_async(Note.objects.filter(owner=user).count)()
            await asyncio.sleep(1)


Query = merge_types("Query", (AuthQuery, NotesQuery))
Mutation = merge_types("Mutation", (AuthMutation, NotesMutation))
# Recommended limits: bounded depth, aliases and document size. Batching stays
# off (Strawberry's default). Login, register and confirmEmail are throttled per
# field anyway, so aliases cannot multiply password guesses.
schema = Schema(
    query=Query,
    mutation=Mutation,
    subscription=Subscription,
    extensions=[
        QueryDepthLimiter(max_depth=10),
        MaxAliasesLimiter(max_alias_count=15),
        MaxTokensLimiter(max_token_count=2000),
    ],
)
