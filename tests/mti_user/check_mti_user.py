"""Run by tests/test_custom_user.py with ``--ds=tests.mti_user.settings``: the user model
(``Member``) is a multi-table child of ``Account``, whose table holds the password, is_active
and email; a member's primary key is its own, not its account's. A save of the parent writes
the user's row: it must revoke as a save of the user does (API.md §8), and only that user's
sessions, whoever makes it (the parent's admin, a shell, a backend working on ``Account``). So
must a new child created on a member's rows: ``Vendor`` (another child of ``Account``), ``Staff``
and ``Partner`` (children of ``Member``, ``Partner`` with a key of its own)."""

import pytest
from django.contrib.auth.forms import AdminPasswordChangeForm
from django.contrib.auth.hashers import make_password
from django.test import Client as DjangoClient

from gql_authtoken import signals, tokens
from gql_authtoken.exceptions import InvalidToken
from tests.adapters import GraphQLAdapter, RestAdapter

PASSWORD = "a-Strong-passphrase-42"
NEW_PASSWORD = "a-Strong-new-passphrase-42"


@pytest.fixture
def member(db):
    from tests.mti_user.models import Member

    return Member.objects.create_user("alice", "alice@example.com", PASSWORD, uid=10_000)


@pytest.fixture
def bystander(member):
    """bob, whose member key is alice's account key: a change to alice's account revoked his sessions."""
    from tests.mti_user.models import Member

    assert member.account_ptr_id != member.pk
    bob = Member.objects.create_user("bob", "bob@example.com", PASSWORD, uid=member.account_ptr_id)
    return tokens.issue_token(bob).token


def _parent_of(member):
    from tests.mti_user.models import Account

    return Account.objects.get(pk=member.account_ptr_id)


def _refused_everywhere(token):
    with pytest.raises(InvalidToken):
        tokens.authenticate_token(token)
    assert RestAdapter().check(token) == "invalid_token"
    assert GraphQLAdapter("sync").check(token) == "invalid_token"


@pytest.mark.parametrize("change", [
    lambda account: account.set_password(NEW_PASSWORD),
    lambda account: account.set_unusable_password(),
    lambda account: setattr(account, "password", make_password(NEW_PASSWORD)),
    lambda account: setattr(account, "is_active", False),
], ids=["set_password", "set_unusable_password", "hash assigned", "deactivated"])
def test_a_change_saved_through_the_parent_revokes_every_session(member, bystander, change):
    issued = tokens.issue_token(member)
    assert RestAdapter().check(issued.token) == "ok"
    account = _parent_of(member)
    change(account)
    account.save()
    _refused_everywhere(issued.token)
    assert RestAdapter().check(bystander) == "ok"  # only alice's sessions


def test_token_revoked_names_the_user_model_s_instance(member):
    from tests.mti_user.models import Member

    tokens.issue_token(member)
    received = []

    def receiver(user, **kwargs):
        received.append(user)

    signals.token_revoked.connect(receiver, dispatch_uid="mti-test")
    try:
        account = _parent_of(member)
        account.set_password(NEW_PASSWORD)
        account.save()
    finally:
        signals.token_revoked.disconnect(dispatch_uid="mti-test")
    assert len(received) == 1 and type(received[0]) is Member and received[0].pk == member.pk


def test_the_parent_s_admin_password_form_revokes(member, bystander):
    from django.contrib.auth import get_user_model

    issued = tokens.issue_token(member)
    root = get_user_model().objects.create_superuser("root", "root@example.com", "root-password-42")
    browser = DjangoClient()
    browser.force_login(root)
    response = browser.post(f"/admin/mti_user/account/{member.account_ptr_id}/password/",
                            {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"})
    assert response.status_code == 302, response.content[:2000]
    assert _parent_of(member).check_password(NEW_PASSWORD)
    _refused_everywhere(issued.token)
    assert RestAdapter().check(bystander) == "ok"


def test_admin_password_change_form_on_the_parent_revokes(member):
    issued = tokens.issue_token(member)
    form = AdminPasswordChangeForm(_parent_of(member), {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert form.is_valid(), form.errors
    form.save()
    _refused_everywhere(issued.token)


def test_a_name_saved_through_the_parent_keeps_the_sessions(member):
    issued = tokens.issue_token(member)
    account = _parent_of(member)
    account.first_name = "Alice"
    account.save()
    assert tokens.authenticate_token(issued.token).user.first_name == "Alice"


def test_a_login_re_hash_keeps_the_sessions(member):
    from tests.mti_user.models import Member

    outdated = make_password(PASSWORD, salt="ab", hasher="md5")  # a salt too short: Django re-hashes it
    Member.objects.filter(pk=member.pk).update(password=outdated)
    issued = tokens.issue_token(member)
    code, token = RestAdapter().login("alice", PASSWORD)
    assert code == "ok" and token
    assert Member.objects.get(pk=member.pk).password != outdated
    assert tokens.authenticate_token(issued.token).user == member


def test_a_stale_parent_instance_never_writes_the_old_password_back(member):
    """A check of the old, outdated password on an Account loaded before the change (a backend or
    admin working on the parent): Django's re-hash would restore the old password."""
    from tests.mti_user.models import Member

    Member.objects.filter(pk=member.pk).update(password=make_password(PASSWORD, salt="ab", hasher="md5"))
    stale = _parent_of(member)
    owner = Member.objects.get(pk=member.pk)
    owner.set_password(NEW_PASSWORD)
    owner.save()
    assert stale.check_password(PASSWORD) is False
    stored = Member.objects.get(pk=member.pk)
    assert stored.check_password(NEW_PASSWORD) and not stored.check_password(PASSWORD)


def test_a_parent_row_without_a_user_saves_as_usual(member):
    from tests.mti_user.models import Account

    issued = tokens.issue_token(member)
    other = Account.objects.create_user("carol", "carol@example.com", PASSWORD)  # an Account, not a Member
    other.set_password(NEW_PASSWORD)
    other.is_active = False
    other.save()
    assert Account.objects.get(pk=other.pk).check_password(NEW_PASSWORD)
    assert tokens.authenticate_token(issued.token).user == member


CHANGES = pytest.mark.parametrize("changes", [{"password": make_password(NEW_PASSWORD)}, {"is_active": False}],
                                  ids=["new hash", "deactivated"])


def _refused_after_reactivation(member, token):
    """Revoked (the rows deleted, not only refused by their password digest), and still refused
    once re-activated behind the package's back (API.md §8)."""
    from gql_authtoken.models import AuthToken
    from tests.mti_user.models import Account

    assert not AuthToken.objects.filter(user_id=member.pk).exists()
    _refused_everywhere(token)
    Account.objects.filter(pk=member.account_ptr_id).update(is_active=True)
    _refused_everywhere(token)


@CHANGES
@pytest.mark.parametrize("link", ["account_ptr", "account_ptr_id", "id"])
def test_another_child_created_on_the_member_s_account_row_revokes(member, bystander, changes, link):
    """brk80, brk81: ``Vendor(account_ptr=alice's account, ...).save()`` updates alice's Account row
    (her hash, is_active) and inserts the Vendor row, so Django says ``created``: nothing was
    revoked. Named by ``account_ptr_id`` alone, Django copies the key into ``id`` only after
    ``pre_save``: nothing was read before the save."""
    from tests.mti_user.models import Vendor

    issued = tokens.issue_token(member)
    values = {**_parent_values(member), **changes}
    key, _link = values.pop("id"), values.pop("account_ptr_id")
    Vendor(**values, **{link: _parent_of(member) if link == "account_ptr" else key}).save()
    assert all(getattr(_parent_of(member), name) == value for name, value in changes.items())
    _refused_after_reactivation(member, issued.token)
    assert RestAdapter().check(bystander) == "ok"


@CHANGES
@pytest.mark.parametrize("child", ["Staff", "Partner"])
def test_a_child_of_the_user_model_created_on_a_member_s_row_revokes(member, bystander, changes, child):
    """brk81: promoting alice (``Staff(member_ptr=alice, ...)``) updates her rows and inserts the
    child's: a save of the user model's child, ``created``, whose key (``Partner``'s own) is not
    the member's; nothing was read before it, and nothing revoked."""
    from tests.mti_user import models

    issued = tokens.issue_token(member)
    values = {**models.Member.objects.filter(pk=member.pk).values()[0], **changes}
    del values["uid"]
    getattr(models, child)(member_ptr=member, **values).save()
    assert all(getattr(_parent_of(member), name) == value for name, value in changes.items())
    _refused_after_reactivation(member, issued.token)
    assert RestAdapter().check(bystander) == "ok"


@pytest.mark.parametrize("rows", ["members", "accounts", "both"])
def test_a_restore_of_unchanged_rows_keeps_the_sessions(member, bystander, rows, tmp_path):
    """brk81: ``loaddata`` saves raw, writing the sender's own table only; a member's own row holds
    no password, so comparing the instance's (empty) inherited fields revoked every session and
    cancelled pending address changes."""
    from django.core import serializers
    from django.core.management import call_command

    from tests.mti_user.models import Account, Member

    issued = tokens.issue_token(member)
    objects = {"members": [*Member.objects.all()], "accounts": [*Account.objects.all()]}
    objects["both"] = objects["accounts"] + objects["members"]
    fixture = tmp_path / "rows.json"
    fixture.write_text(serializers.serialize("json", objects[rows]))
    call_command("loaddata", str(fixture), verbosity=0)
    assert tokens.authenticate_token(issued.token).user == member
    assert RestAdapter().check(bystander) == "ok"


def test_a_restore_of_an_account_row_with_a_new_password_revokes(member, bystander, tmp_path):
    from django.core import serializers
    from django.core.management import call_command


    issued = tokens.issue_token(member)
    account = _parent_of(member)
    account.password = make_password(NEW_PASSWORD)
    fixture = tmp_path / "rows.json"
    fixture.write_text(serializers.serialize("json", [account]))
    call_command("loaddata", str(fixture), verbosity=0)
    _refused_after_reactivation(member, issued.token)
    assert RestAdapter().check(bystander) == "ok"


def test_a_vendor_on_a_new_account_row_is_just_created(member, bystander):
    from tests.mti_user.models import Vendor

    issued = tokens.issue_token(member)
    Vendor.objects.create(username="shop", email="shop@example.com", password=make_password(NEW_PASSWORD))
    assert RestAdapter().check(issued.token) == "ok" and RestAdapter().check(bystander) == "ok"


def _parent_values(member):
    from tests.mti_user.models import Account

    values = Account.objects.filter(pk=member.account_ptr_id).values()[0]
    return {**values, "account_ptr_id": values["id"]}


def test_deleting_a_partner_ends_its_own_sessions_only(db):
    """brk87: a ``Partner`` (a child of the user model with a key of its own) deleted: the
    receivers took its own key (``pid``) for the user's (``uid``), and ended the sessions of
    the member whose key that is."""
    from tests.mti_user.models import Member, Partner

    alice = Member.objects.create_user("alice", "alice@example.com", PASSWORD, uid=5)
    bob = Partner.objects.create_user("bob", "bob@example.com", PASSWORD, uid=77, pid=5)
    assert bob.pk == alice.pk == 5 and bob.uid == 77
    alices, bobs = tokens.issue_token(alice), tokens.issue_token(Member.objects.get(uid=77))
    Partner.objects.get(pid=5).delete()
    assert tokens.authenticate_token(alices.token).user == alice
    with pytest.raises(InvalidToken):
        tokens.authenticate_token(bobs.token)
    assert not Member.objects.filter(uid=77).exists()
