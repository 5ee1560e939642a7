"""Management commands: thin wrappers over the core."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from gql_authtoken import clock, tokens
from gql_authtoken.models import AuthToken, Client


def run(*args):
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_clear_expired_tokens_in_batches(user, monkeypatch, django_assert_max_num_queries):
    live = tokens.issue_token(user, client=Client.objects.create(name="cli", token_ttl=None))
    for _ in range(5):
        tokens.issue_token(user)
    later = clock.now() + timedelta(days=2)
    monkeypatch.setattr(clock, "now", lambda: later)
    assert "Deleted 5 expired token(s)." in run("clear_expired_tokens", "--batch-size", "2")
    assert list(AuthToken.objects.all()) == [live.instance]
    assert "Deleted 0 expired token(s)." in run("clear_expired_tokens")


def test_clear_expired_tokens_refuses_them_from_the_cache_too(gql, user, monkeypatch):
    token = tokens.issue_token(user).token
    assert gql("{ me { username } }", token=token)["data"]["me"]  # now cached
    later = clock.now() + timedelta(days=2)
    monkeypatch.setattr(clock, "now", lambda: later)
    run("clear_expired_tokens")
    assert gql("{ sessions { id } }", token=token)["errors"][0]["extensions"]["code"] == "invalid_token"


def test_revoke_all_tokens_needs_force(user, other_user, gql):
    token = tokens.issue_token(user).token
    tokens.issue_token(other_user)
    assert gql("{ me { username } }", token=token)["data"]["me"]
    with pytest.raises(CommandError, match="--force"):
        run("revoke_all_tokens")
    assert AuthToken.objects.count() == 2
    assert "Revoked 2 token(s)." in run("revoke_all_tokens", "--force")
    assert not AuthToken.objects.exists()
    assert gql("{ me { username } }", token=token)["data"]["me"] is None


def test_revoke_all_tokens_exits_non_zero_without_force(db):
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-c", (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='tests.settings'; django.setup();"
        "from django.core.management import execute_from_command_line;"
        "execute_from_command_line(['manage.py', 'revoke_all_tokens'])")], capture_output=True, text=True)
    assert result.returncode != 0 and "--force" in result.stderr


@pytest.mark.parametrize(("args", "ttl", "rate", "said"), [
    ([], timedelta(days=1), None, "tokens live 1\xa0day (P1DT00H00M00S), rate none"),
    (["--ttl", "3600"], timedelta(hours=1), None, "tokens live 1\xa0hour (P0DT01H00M00S)"),
    (["--ttl", "P30D"], timedelta(days=30), None, "tokens live 4\xa0weeks, 2\xa0days (P30DT00H00M00S)"),
    (["--ttl", "2 00:00:00", "--throttle-rate", "100/hour"], timedelta(days=2), "100/hour", "rate 100/hour"),
    (["--ttl", "none"], None, None, "tokens never expire"),
    (["--ttl", "1"], timedelta(seconds=1), None, "tokens live 1 second(s) (P0DT00H00M01S)"),
])
def test_create_client(db, args, ttl, rate, said):
    output = run("create_client", "web", *args)
    client = Client.objects.get(name="web")
    assert (client.token_ttl, client.throttle_rate) == (ttl, rate)
    assert "Created client 'web'" in output and said in output


@pytest.mark.parametrize(("args", "said"), [
    (["--ttl", "soon"], "is not seconds, a duration"),
    (["--throttle-rate", "fast"], "rate"),
    (["--ttl", "-5"], "must be above 0 and at most 36500 days, or none for tokens that never expire"),
    (["--ttl", "0"], "must be above 0 and at most 36500 days, or none for tokens that never expire"),
    (["--ttl", "P40000D"], "must be above 0"),
])
def test_create_client_rejects_bad_input_and_writes_nothing(db, args, said):
    with pytest.raises(CommandError, match=said):
        run("create_client", "web", *args)
    assert not Client.objects.exists()


def test_create_client_twice(db):
    run("create_client", "web")
    with pytest.raises(CommandError, match="already exists"):
        run("create_client", "web")


@pytest.mark.parametrize("command", [("clear_expired_tokens",), ("fill_password_digests",),
                                     ("import_tokens", "--from", "drf")])
@pytest.mark.parametrize("size", ["0", "-5", "10001", "99999999999999999999999", "1e3", ""])
def test_a_batch_size_out_of_range_is_refused_before_anything_runs(db, command, size):
    """Each used to fail deep inside (a ValueError of the ORM, PostgreSQL's bigint out of range)."""
    with pytest.raises(CommandError, match="--batch-size must be a whole number from 1 to 10,000"):
        call_command(*command, "--batch-size", size)


@pytest.mark.parametrize("command", [("clear_expired_tokens",), ("fill_password_digests",),
                                     ("import_tokens", "--from", "drf")])
@pytest.mark.parametrize("size", [0, -1, 10_001, True, 2.5])
def test_a_batch_size_passed_to_call_command_is_checked_too(db, command, size):
    """call_command(..., batch_size=0) skips argparse's type: handle() checks it again."""
    with pytest.raises(CommandError, match="--batch-size must be a whole number"):
        call_command(*command, batch_size=size)


def test_fill_password_digests_fills_only_rows_without_one(db):
    """Rows made before migration 0006 (no digest) get their user's; others are left as they are."""
    from django.contrib.auth import get_user_model

    from gql_authtoken.models import password_digest

    users = [get_user_model().objects.create_user(f"user{i}", password=f"pw-{i}-long-enough") for i in range(3)]
    for user in users:
        tokens.issue_token(user)
        tokens.issue_token(user)
    AuthToken.objects.filter(user__in=users[:2]).update(password_digest="")
    AuthToken.objects.filter(user=users[2]).update(password_digest="kept")
    assert "Gave 4 token(s)" in run("fill_password_digests", "--batch-size", "1")
    for user in users[:2]:
        assert set(AuthToken.objects.filter(user=user).values_list("password_digest", flat=True)) == {
            password_digest(user.password)}
    assert set(AuthToken.objects.filter(user=users[2]).values_list("password_digest", flat=True)) == {"kept"}
    assert "Gave 0 token(s)" in run("fill_password_digests")
