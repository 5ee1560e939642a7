"""An app replaces the default User type with its own."""

import strawberry
import strawberry_django
from django.contrib.auth import get_user_model
from strawberry.django.context import StrawberryDjangoContext
from strawberry.tools import merge_types

from gql_authtoken import tokens
from gql_authtoken.graphql import Schema, make_auth_types


@strawberry_django.type(get_user_model(), name="User")
class AppUser:
    id: strawberry.auto
    username: strawberry.auto
    first_name: strawberry.auto


@strawberry.type
class AppQuery:
    hello: str = "hi"


def test_make_auth_types_with_the_apps_user_type(user, rf):
    user.first_name = "Alice"
    user.save()
    auth = make_auth_types(user_type=AppUser)
    schema = Schema(query=merge_types("Query", (auth.query, AppQuery)), mutation=auth.mutation)
    sdl = schema.as_str()
    assert "firstName: String!" in sdl and "me: User" in sdl
    request = rf.post("/graphql/", HTTP_AUTHORIZATION=f"Token {tokens.issue_token(user).token}")
    result = schema.execute_sync("{ me { username firstName } }",
                                 context_value=StrawberryDjangoContext(request=request, response=None))
    assert result.errors is None
    assert result.data == {"me": {"username": "alice", "firstName": "Alice"}}
