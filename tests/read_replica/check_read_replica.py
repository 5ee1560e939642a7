"""Run by tests/test_replicas.py under tests.read_replica.settings (a router reading from an empty replica).

Every read that decides whether a token is live goes to ``router.db_for_write``:
authentication, refresh, rotation and every revocation work although the replica
holds none of the tokens; the sessions list reads the replica (it shows the lag).
"""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model
from django.db import connections
from django.test import Client as DjangoClient
from django.test.utils import CaptureQueriesContext

from gql_authtoken import crypto, tokens
from gql_authtoken.models import AuthToken
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db(databases=["default", "replica"], transaction=True)


def graphql(query, token):
    response = DjangoClient().post("/graphql/sync/", json.dumps({"query": query}), content_type="application/json",
                                   headers={"Authorization": f"Token {token}"})
    assert response.status_code == 200, response.content
    return response.json()


def me(token):
    return graphql("{ me { username } }", token)["data"]["me"]


def rest(path, token, method="get"):
    return getattr(DjangoClient(), method)(path, headers={"Authorization": f"Token {token}"}).status_code


@pytest.fixture
def user():
    user = get_user_model().objects.create_user("alice", "alice@example.com", PASSWORD)
    # The replica holds nothing: every read routed there finds nothing.
    assert not get_user_model().objects.exists() and get_user_model().objects.using("default").count() == 1
    return user


def test_authentication_reads_the_primary(user):
    token = tokens.issue_token(user).token
    assert not AuthToken.objects.exists()  # routed to the replica: no token there
    with CaptureQueriesContext(connections["replica"]) as on_replica:
        assert me(token) == {"username": "alice"}
        assert me(token) == {"username": "alice"}  # from the cache
        assert rest("/not-cli/", token) == 200  # plain TokenAuthentication: a query each time
        assert rest("/cached/", token) == 200
    assert on_replica.captured_queries == []


def test_the_sessions_list_may_read_the_replica(user):
    token = tokens.issue_token(user).token
    with CaptureQueriesContext(connections["replica"]) as on_replica:
        assert graphql("{ sessions { id } }", token)["data"] == {"sessions": []}
    assert len(on_replica.captured_queries) == 1  # the list, from the replica that lags


def test_revocations_find_tokens_the_replica_does_not_have(user):
    first, second, third = (tokens.issue_token(user).token for _ in range(3))
    pk = AuthToken.objects.using("default").get(digest=crypto.hash_token(second)).pk
    payload = graphql(f'mutation {{ revokeSession(id: "{pk}") {{ __typename }} }}', first)["data"]["revokeSession"]
    assert payload["__typename"] != "OperationInfo" and me(second) is None
    assert rest("/auth/logout/", third, "post") == 204 and me(third) is None
    assert me(first) == {"username": "alice"}
    graphql("mutation { logoutAll { __typename } }", first)
    assert me(first) is None
    assert not AuthToken.objects.using("default").exists()


def test_refresh_and_rotation_work_on_the_primary(user):
    token = tokens.issue_token(user).token
    assert me(token)
    response = DjangoClient().put("/auth/token/", headers={"Authorization": f"Token {token}"})
    assert response.status_code == 200
    rotated = response.json()["token"]
    assert me(token) is None and me(rotated) == {"username": "alice"}
    assert rest("/auth/refresh/", rotated, "post") == 200


def test_a_password_change_revokes_tokens_the_replica_does_not_have(user):
    token = tokens.issue_token(user).token
    assert me(token)
    user.set_password("another " + PASSWORD)
    user.save()
    assert me(token) is None
    assert not AuthToken.objects.using("default").exists()


def test_a_token_issued_on_a_session_finds_it_on_the_primary(user):
    """``issue_token(session=...)`` (an API key issued through a session) checks the session still lives."""
    session = tokens.issue_token(user).instance
    assert tokens.issue_token(user, session=session).instance.pk != session.pk


# --- every read that decides something about a credential reads the primary (issue 15) ---
#
# Each path runs against the two replicas a router can send reads to: one that holds
# none of the rows ("empty", as above) and one holding a copy taken before the last
# changes ("stale": the old password hash, the old address, tokens revoked since,
# links used since). The answers must be those of the primary; a 5xx raises here.

NEW_PASSWORD = "another " + PASSWORD
REPLICAS = ["empty", "stale"]


@pytest.fixture(params=["rest", "graphql-sync", "graphql-async"])
def adapter(request):
    from tests.adapters import GraphQLAdapter, RestAdapter

    return RestAdapter() if request.param == "rest" else GraphQLAdapter(request.param.split("-")[1])


def copy_to_replica(*objects):
    """The replica lags: it holds these rows as the primary has them now, and nothing later."""
    for obj in objects:
        fresh = type(obj)._base_manager.using("default").get(pk=obj.pk)
        fresh.save(using="replica", force_insert=True)


def change_password_on_primary(user, password):
    user.set_password(password)
    user.save()  # revokes the user's tokens, on the primary


def set_up(replica, user):
    """``user``'s password was PASSWORD and is NEW_PASSWORD now; the stale replica has the old hash."""
    if replica == "stale":
        copy_to_replica(user)
    change_password_on_primary(user, NEW_PASSWORD)


@pytest.mark.parametrize("replica", REPLICAS)
def test_change_password_checks_the_current_password_on_the_primary(replica, user, adapter):
    set_up(replica, user)
    token = tokens.issue_token(user).token
    tokens.issue_token(user)  # another session, revoked by the change
    if replica == "stale":
        copy_to_replica(*AuthToken.objects.using("default").all())
    code, _ = adapter.change_password(token, PASSWORD, "third " + PASSWORD)
    assert set(code) == {"old_password"}  # the old password, which the stale replica would accept
    assert adapter.change_password(token, NEW_PASSWORD, "third " + PASSWORD) == ("ok", 1)
    assert me(token) == {"username": "alice"}  # the session that changed it lives on
    assert get_user_model().objects.using("default").get().check_password("third " + PASSWORD)


@pytest.mark.parametrize("replica", REPLICAS)
def test_change_email_checks_the_current_password_on_the_primary(replica, user, adapter):
    set_up(replica, user)
    token = tokens.issue_token(user).token
    assert set(adapter.change_email(token, PASSWORD, "evil@example.com")) == {"password"}
    assert adapter.change_email(token, NEW_PASSWORD, "alice@example.org") == "changed"
    assert get_user_model().objects.using("default").get().email == "alice@example.org"


def test_a_user_gone_from_the_primary_is_an_invalid_token_not_a_500(user, adapter):
    """Deleted between authentication and the check (here: a cached token of a deleted user)."""
    from gql_authtoken.accounts import email_change, passwords
    from gql_authtoken.exceptions import InvalidToken

    instance = tokens.issue_token(user).instance
    get_user_model().objects.using("default").all().delete()
    with pytest.raises(InvalidToken):
        passwords.change_password(None, user, instance, old_password=PASSWORD, new_password=NEW_PASSWORD)
    with pytest.raises(InvalidToken):
        email_change.change_email(None, user, password=PASSWORD, new_email="alice@example.org")


@pytest.mark.parametrize("replica", REPLICAS)
def test_a_reset_link_is_checked_against_the_primary(replica, user, adapter):
    from gql_authtoken.accounts import passwords

    old_link = passwords.make_reset_token(user)  # made under the old hash: dead once it changed
    set_up(replica, user)
    assert adapter.reset_password(old_link, "third " + PASSWORD) == ("invalid_reset_token", None)
    link = passwords.make_reset_token(get_user_model().objects.using("default").get())
    assert adapter.reset_password(link, "third " + PASSWORD)[0] == "ok"
    assert adapter.reset_password(link, "fourth " + PASSWORD) == ("invalid_reset_token", None)  # used


@pytest.mark.parametrize("replica", REPLICAS)
def test_a_reset_mail_goes_to_the_address_on_the_primary(replica, user, settings, mailoutbox):
    if replica == "stale":
        copy_to_replica(user)
    user.email = "alice@example.org"
    user.save()
    DjangoClient().post("/auth/password/reset/", {"email": "alice@example.com"}, content_type="application/json")
    assert mailoutbox == []  # the stale replica's address
    DjangoClient().post("/auth/password/reset/", {"email": "alice@example.org"}, content_type="application/json")
    assert [message.to for message in mailoutbox] == [["alice@example.org"]]


@pytest.mark.parametrize("replica", REPLICAS)
def test_login_never_accepts_an_old_password(replica, user, adapter, settings):
    """Django's backends read where the router says; the token is issued against the primary's hash."""
    set_up(replica, user)
    assert adapter.login("alice", PASSWORD) == ("invalid_credentials", None)
    # Without PrimaryForCredentialChecks the backend reads the replica: it refuses the new
    # password until the replica catches up (system check W010 says so).
    assert adapter.login("alice", NEW_PASSWORD) == ("invalid_credentials", None)
    settings.DATABASE_ROUTERS = ["gql_authtoken.primary.PrimaryForCredentialChecks", *settings.DATABASE_ROUTERS]
    code, token = adapter.login("alice", NEW_PASSWORD)
    assert code == "ok" and me(token) == {"username": "alice"}
    assert adapter.login("alice", PASSWORD) == ("invalid_credentials", None)


def test_the_credential_router_leaves_every_other_read_to_the_next_router(user, settings):
    from django.db import router

    from gql_authtoken import primary

    settings.DATABASE_ROUTERS = ["gql_authtoken.primary.PrimaryForCredentialChecks", *settings.DATABASE_ROUTERS]
    assert router.db_for_read(AuthToken) == "replica"
    with primary.reading_primary():
        assert router.db_for_read(AuthToken) == "default"
    assert router.db_for_read(AuthToken) == "replica"


def test_a_login_with_a_client_the_replica_lacks(user, adapter, settings):
    from gql_authtoken.models import Client

    Client.objects.create(name="web")
    settings.DATABASE_ROUTERS = ["gql_authtoken.primary.PrimaryForCredentialChecks", *settings.DATABASE_ROUTERS]
    code, token = adapter.login("alice", PASSWORD, client="web")
    assert code == "ok"
    assert AuthToken.objects.using("default").select_related("client").get().client.name == "web"


def test_an_api_key_with_a_client_the_replica_lacks(user, settings):
    from gql_authtoken.models import Client

    Client.objects.create(name="api")
    settings.GQL_AUTHTOKEN = {**settings.GQL_AUTHTOKEN, "API_ACCESS_CLIENT_NAME": "api"}
    token = tokens.issue_token(user).token
    response = DjangoClient().post("/auth/apiaccess/", headers={"Authorization": f"Token {token}"})
    assert response.status_code in (200, 201), response.content
    assert rest("/auth/apiaccess/", token, "delete") == 204


@pytest.mark.parametrize("replica", REPLICAS)
def test_registration_finds_taken_names_and_addresses_on_the_primary(replica, user, adapter, settings):
    settings.GQL_AUTHTOKEN = {**settings.GQL_AUTHTOKEN, "REGISTRATION_ENABLED": True}
    if replica == "stale":  # alice registered after the copy: the replica has another account only
        get_user_model()(username="zed", email="zed@example.com").save(using="replica")
    assert set(adapter.register("bob", PASSWORD, email="Alice@example.com")) == {"email"}
    assert set(adapter.register("ALICE", PASSWORD, email="bob@example.com")) == {"username"}
    assert get_user_model().objects.using("default").count() == 1


@pytest.mark.parametrize("replica", REPLICAS)
def test_a_confirmation_link_is_read_from_the_primary(replica, user, adapter):
    from gql_authtoken import clock, email_confirmation
    from gql_authtoken.models import ConfirmationPurpose, EmailConfirmationToken

    link = email_confirmation.create_confirmation_token(user, user.email, purpose=ConfirmationPurpose.ADDRESS,
                                                        now=clock.now())
    if replica == "stale":
        copy_to_replica(user, EmailConfirmationToken.objects.using("default").get())
    assert adapter.confirm_email(link) == "ok"
    assert adapter.confirm_email(link) == "invalid_confirmation_token"  # used, though not on the replica
    assert email_confirmation.is_email_confirmed(user)


def in_time(function, seconds=20):
    """``function()``'s result; fails when it has not returned after ``seconds`` (a loop that spins)."""
    import threading

    result = []
    thread = threading.Thread(target=lambda: result.append(function()), daemon=True)
    thread.start()
    thread.join(seconds)
    assert result, f"{function.__name__} did not return within {seconds} s"
    return result[0]


@pytest.mark.parametrize("replica", REPLICAS)
def test_clear_expired_tokens_reads_the_primary_and_always_ends(replica, user):
    from datetime import timedelta

    from gql_authtoken import clock

    live = tokens.issue_token(user).instance
    expired = [tokens.issue_token(user).instance for _ in range(5)]
    AuthToken.objects.filter(pk__in=[t.pk for t in expired]).update(expiry=clock.now() - timedelta(hours=1))
    if replica == "stale":  # the replica still has expired rows the primary deleted long ago
        copy_to_replica(user, *AuthToken.objects.using("default").all())
        gone = tokens.issue_token(user).instance
        AuthToken.objects.filter(pk=gone.pk).update(expiry=clock.now() - timedelta(hours=1))
        copy_to_replica(gone)
        AuthToken.objects.using("default").filter(pk=gone.pk).delete()

    def clear_expired_tokens():
        return tokens.clear_expired_tokens(batch_size=2)

    assert in_time(clear_expired_tokens) == 5
    assert list(AuthToken.objects.using("default").values_list("pk", flat=True)) == [live.pk]
    assert in_time(clear_expired_tokens) == 0


@pytest.mark.parametrize("replica", REPLICAS)
def test_revocations_ignore_what_the_replica_still_holds(replica, user, adapter):
    first, second = tokens.issue_token(user), tokens.issue_token(user)
    if replica == "stale":
        copy_to_replica(user, first.instance, second.instance)
    assert adapter.logout(second.token) == "ok"
    # The replica still lists it; the primary has it no more.
    assert adapter.revoke_session(first.token, second.instance.pk) == "session_not_found"
    later = tokens.issue_token(user).token  # not on any replica
    assert adapter.logout_all(first.token) == "ok"
    assert me(first.token) is None and me(later) is None
    assert not AuthToken.objects.using("default").exists()


@pytest.mark.parametrize("replica", REPLICAS)
def test_revoke_all_tokens_reads_the_primary_and_always_ends(replica, user):
    issued = [tokens.issue_token(user) for _ in range(5)]
    if replica == "stale":
        copy_to_replica(user, *(t.instance for t in issued))
        AuthToken.objects.using("default").filter(pk=issued[0].instance.pk).delete()

    def revoke_every_token():
        return tokens.revoke_every_token(batch_size=2)

    assert in_time(revoke_every_token) == (4 if replica == "stale" else 5)
    assert not AuthToken.objects.using("default").exists()
    assert all(me(t.token) is None for t in issued)


def test_identity_lookups_read_the_primary(user):
    """Throttle buckets and uniqueness: the account, though the replica has none."""
    from gql_authtoken import identities, throttling

    assert identities.find_account("alice") == user
    assert identities.find_account_by_email("ALICE@example.com") == user
    assert throttling.identity_bucket(identities.find_account("alice"), "alice") == f"account:{user.pk}"
    assert identities.username_in_use("Alice") and identities.email_in_use("alice@EXAMPLE.com")
