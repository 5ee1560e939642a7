"""The differential compatibility suite: old clients against the real libraries and against us.

For each library whose clients gql_authtoken must keep serving (DRF authtoken,
drf_advanced_token, django-rest-authtoken, django-rest-durin), ``libraries/``
holds a *project* (the library's documented settings and URLs, and the same
app after the switch to gql_authtoken) and a *flow*: that library's documented
client requests, written once. ``tests/test_compat.py`` runs each project
twice, each time in its own process (``python -m tests.compat.run``):

1. **legacy**: a throwaway project with the real library installed. It creates
   the users (and durin's clients), logs in once through the library (the
   token a deployed client holds at the switch), snapshots the database, then
   runs the flow and writes down every answer.
2. **migrated**: the snapshot, migrated to gql_authtoken and imported with
   ``import_tokens --from <library>``; the same flow runs, starting from that
   imported token and logging in afresh where the flow logs in.

Answers are compared by status code, ``WWW-Authenticate``, ``Location``, the
JSON body's keys and value types (``harness.shape``), the ``detail`` text of
401/403 answers (DRF's messages are part of the contract) and a few facts the
flow states (``same_token_on_every_login``...). Any difference must be listed,
with its reason, in ``differences.DELIBERATE`` and in docs/migrating.md; a
listed difference that no longer happens fails too.
"""
