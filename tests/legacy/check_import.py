"""Run by tests/test_import_tokens.py with ``--ds=tests.legacy.settings``.

Each library creates tokens with its own API; after ``import_tokens`` the
original plaintext authenticates against gql_authtoken, over REST and GraphQL.
"""

from base64 import urlsafe_b64encode
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import override_settings
from rest_framework.test import APIClient

from gql_authtoken import clock, tokens
from gql_authtoken.models import AuthToken, Client
from tests.conftest import GraphQLClient


def run(*args):
    out = StringIO()
    call_command("import_tokens", *args, stdout=out)
    return out.getvalue()


def check(token):
    return APIClient().get("/auth/token/", HTTP_AUTHORIZATION=f"Token {token}").status_code


def me(token):
    return GraphQLClient("sync")("{ me { username } }", token=token)["data"]["me"]


def test_drf_authtoken(user):
    from rest_framework.authtoken.models import Token

    key = Token.objects.create(user=user).key
    assert check(key) == 401
    assert "Imported 1 of 1 drf token(s)" in run("--from", "drf")
    assert check(key) == 200 and me(key) == {"username": "alice"}
    assert AuthToken.objects.get().expiry is None  # DRF tokens never expired
    assert key not in str(list(AuthToken.objects.values_list()))
    assert "Imported 0 of 1 drf token(s); 1 already imported" in run("--from", "drf")
    assert AuthToken.objects.count() == 1


def test_knox(user):
    from knox.models import AuthToken as KnoxToken

    instance, token = KnoxToken.objects.create(user=user)
    _, expired_token = KnoxToken.objects.create(user=user, expiry=timedelta(seconds=-1))
    assert "Imported 1 of 2 knox token(s); 0 already imported, 1 expired (left out)." in run("--from", "knox")
    imported = AuthToken.objects.get()
    assert (imported.digest, imported.expiry, imported.created) == (instance.digest, instance.expiry, instance.created)
    assert check(token) == 200 and me(token) == {"username": "alice"}
    assert check(expired_token) == 401
    # Logout works on imported tokens like on ours.
    assert APIClient().post("/auth/logout/", HTTP_AUTHORIZATION=f"Token {token}").status_code == 204
    assert check(token) == 401


def test_old_knox_is_refused_with_a_reason(user):
    from knox.models import AuthToken as KnoxToken

    with connection.cursor() as cursor:  # the column knox < 5 had
        cursor.execute("ALTER TABLE knox_authtoken ADD COLUMN salt varchar(16) NULL")
    KnoxToken.objects.create(user=user)
    with pytest.raises(CommandError, match="knox < 5"):
        run("--from", "knox")
    assert not AuthToken.objects.exists()


def test_durin_with_its_clients(user):
    from durin.models import AuthToken as DurinToken
    from durin.models import Client as DurinClient

    web = DurinClient.objects.create(name="web", token_ttl=timedelta(hours=5), throttle_rate="100/hour")
    token = DurinToken.objects.create(user=user, client=web).token
    assert "Would import 1 of 1" in run("--from", "durin", "--dry-run")
    assert not AuthToken.objects.exists() and not Client.objects.exists()
    output = run("--from", "durin")
    assert "Imported 1 of 1 durin token(s)" in output and "Created client(s): web." in output
    client = Client.objects.get(name="web")
    assert (client.token_ttl, client.throttle_rate) == (timedelta(hours=5), "100/hour")
    assert check(token) == 200
    [session] = APIClient(HTTP_AUTHORIZATION=f"Token {token}").get("/auth/sessions/").json()
    assert session["client"] == "web"
    assert tokens.refresh_token(tokens.authenticate_token(token)) is not None


def test_rest_authtoken(user):
    from rest_authtoken.models import AuthToken as RestToken

    raw = RestToken.create_token_for_user(user)
    token = urlsafe_b64encode(raw).decode()  # what its clients send
    output = run("--from", "rest_authtoken")
    assert "Imported 1 of 1 rest_authtoken token(s)" in output
    assert "GQL_AUTHTOKEN['ACCEPT_REST_AUTHTOKEN_TOKENS'] = True" in output  # the command says what to set
    imported = AuthToken.objects.get()
    assert imported.expiry == imported.created + timedelta(days=1)
    assert check(token) == 401  # lookups try that digest form only when told to
    with override_settings(GQL_AUTHTOKEN={"ACCEPT_REST_AUTHTOKEN_TOKENS": True}):
        assert "ACCEPT_REST_AUTHTOKEN_TOKENS" not in run("--from", "rest_authtoken")  # already set
        for _ in range(2):  # not cached (its digest form differs), but works every time
            assert check(token) == 200 and me(token) == {"username": "alice"}
        # Rotating gives the client a token of ours; the old one dies.
        new = APIClient(HTTP_AUTHORIZATION=f"Token {token}").put("/auth/token/").json()["token"]
        assert check(token) == 401 and check(new) == 200
        # A new token of ours that happens to be 64 base64 characters never matches that form.
        assert check(tokens.issue_token(user).token) == 200


def test_missing_table_is_a_clear_error(db):
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE authtoken_token")
    with pytest.raises(CommandError, match="There is no authtoken_token table"):
        run("--from", "drf")


def test_delete_source_removes_the_carried_over_plaintext_keys(user, other_user):
    from rest_framework.authtoken.models import Token

    key = Token.objects.create(user=user).key
    kept = Token.objects.create(user=other_user).key
    output = run("--from", "drf")
    assert "still holds the 2 carried-over token(s) in plaintext" in output and "--delete-source" in output
    assert Token.objects.count() == 2
    assert "Would delete 2 carried-over row(s)" in run("--from", "drf", "--dry-run", "--delete-source")
    assert Token.objects.count() == 2
    assert "Deleted 2 carried-over row(s) from the drf table." in run("--from", "drf", "--delete-source")
    assert not Token.objects.exists()
    assert check(key) == 200 and check(kept) == 200  # they live on as ours
    assert "Imported 0 of 0 drf token(s)" in run("--from", "drf", "--delete-source")


def test_delete_source_leaves_rows_that_were_not_carried_over(user):
    from django.contrib.auth import get_user_model
    from durin.models import AuthToken as DurinToken
    from durin.models import Client as DurinClient

    client = DurinClient.objects.create(name="web", token_ttl=timedelta(hours=1))
    live = DurinToken.objects.create(user=user, client=client)
    bob = get_user_model().objects.create_user("bob", "bob@example.com", "pw")
    expired = DurinToken.objects.create(user=bob, client=client)
    DurinToken.objects.filter(pk=expired.pk).update(expiry=clock.now() - timedelta(seconds=1))
    output = run("--from", "durin", "--delete-source")
    assert "1 expired (left out)" in output
    assert "Deleted 1 carried-over row(s) from the durin table." in output
    assert list(DurinToken.objects.values_list("pk", flat=True)) == [expired.pk]
    assert check(live.token) == 200


@pytest.mark.django_db(transaction=True)  # the import commits, as the command does
def test_a_user_deleted_while_the_import_runs_is_left_out(user, other_user, monkeypatch):
    """The rows were read, then the user was deleted (their rows in the old table with them):
    their token is left out and said so, instead of failing the commit (an IntegrityError)."""
    from rest_framework.authtoken.models import Token

    from gql_authtoken import importers

    key = Token.objects.create(user=user).key
    gone = Token.objects.create(user=other_user).key
    read = importers.READERS["drf"]

    def read_then_user_deleted(batch_size):
        rows = list(read(batch_size))
        other_user.delete()
        yield from rows

    monkeypatch.setitem(importers.READERS, "drf", read_then_user_deleted)
    output = run("--from", "drf", "--delete-source")
    assert "Imported 1 of 2 drf token(s); 0 already imported, 0 expired (left out), 1 of users deleted" in output
    assert "Deleted 1 carried-over row(s)" in output
    assert check(key) == 200 and check(gone) == 401
    assert list(AuthToken.objects.values_list("user_id", flat=True)) == [user.pk]


def test_a_client_deleted_while_the_import_runs_stops_it_with_nothing_imported(user, monkeypatch):
    """Our client, found by the import, was deleted by someone else before its tokens were
    written: a clear error and nothing of that batch imported, instead of an IntegrityError."""
    from durin.models import AuthToken as DurinToken
    from durin.models import Client as DurinClient

    from gql_authtoken import importers

    ours = Client.objects.create(name="web")
    DurinToken.objects.create(user=user, client=DurinClient.objects.create(name="web"))
    real_client = importers._client

    def found_then_deleted(*args):
        found = real_client(*args)
        Client.objects.filter(pk=found.pk).delete()  # as the admin would, from its own connection
        return found

    monkeypatch.setattr(importers, "_client", found_then_deleted)
    with pytest.raises(CommandError, match="The client 'web' was deleted while the import ran; the batches"):
        run("--from", "durin")
    assert not AuthToken.objects.exists() and Client.objects.filter(pk=ours.pk).exists()  # the batch rolled back


def test_each_batch_commits_on_its_own_and_a_second_run_carries_on(user, other_user, monkeypatch):
    """One transaction per batch: what an interrupted import wrote stays, and the next run
    imports the rest (the users' locks of a batch are not held for the whole import)."""
    from durin.models import AuthToken as DurinToken
    from durin.models import Client as DurinClient

    from gql_authtoken import importers

    durin_web = DurinClient.objects.create(name="web")
    first = DurinToken.objects.create(user=user, client=durin_web)
    second = DurinToken.objects.create(user=other_user, client=durin_web)
    real_client, calls = importers._client, []

    def deleted_in_the_second_batch(*args):
        found = real_client(*args)
        calls.append(found)
        if len(calls) == 2:
            Client.objects.filter(pk=found.pk).delete()
        return found

    monkeypatch.setattr(importers, "_client", deleted_in_the_second_batch)
    with pytest.raises(CommandError, match="the batches before this one were imported"):
        run("--from", "durin", "--batch-size", "1")
    assert check(first.token) == 200 and check(second.token) == 401
    monkeypatch.undo()
    assert "Imported 1 of 2 durin token(s); 1 already imported" in run("--from", "durin", "--batch-size", "1")
    assert check(second.token) == 200


def test_knox_digests_of_another_hash_refuse_the_import_before_any_batch(user):
    """Batches commit one by one: a table with a digest that is not SHA-512 (knox's
    SECURE_HASH_ALGORITHM changed) is refused before the first, not half imported."""
    from knox.models import AuthToken as KnoxToken

    KnoxToken.objects.create(user=user)  # SHA-512, the oldest: it would be the first batch
    other, _token = KnoxToken.objects.create(user=user)
    KnoxToken.objects.filter(pk=other.pk).update(digest="ab" * 32)  # a SHA-256 hex digest
    with pytest.raises(CommandError, match="not SHA-512"):
        run("--from", "knox", "--batch-size", "1")
    assert not AuthToken.objects.exists()
