"""Every difference between an old library's answers and ours that we mean: the one table.

Each entry's ``id`` heads its row in docs/migrating.md ("What old clients
see"), which says why and what a client changes; ``tests/test_compat.py``
fails on a difference no entry covers, on a pattern that covers nothing, and
on an id missing from that page. Patterns are ``(project, step, aspect)``,
``*`` for anything; projects are the names in ``libraries.PROJECTS``.
"""

from .harness import Deliberate

DELIBERATE: list[Deliberate] = [
    Deliberate("login-answers-expiry", (
        ("drf", "login*", "body.expiry"),
        ("drf_advanced_token", "login*", "body.expiry"),
        ("rest_authtoken*", "*log*in*", "body.expiry"),
    ), "Every token has an expiry (DEFAULT_TOKEN_TTL or its client's TTL); login says when, as durin's does."),
    Deliberate("new-token-per-login", (
        ("drf", "same_token_on_every_login", "fact"),
        ("drf_advanced_token", "same_token_on_every_login", "fact"),
        ("durin", "same_token_on_every_login", "fact"),
        ("drf_advanced_token", "second_device_still_logged_in", "fact"),
        ("drf_advanced_token", "second device after logout", "*"),
    ), "Each login is a session of its own, revoked alone; DRF's and durin's one token per user (per client)"
       " made a logout on one device log out every other."),
    Deliberate("login-failure-is-400", (
        ("drf_advanced_token", "login, wrong password", "*"),
        ("drf_advanced_token", "login, no password", "*"),
        ("rest_authtoken", "login, wrong password", "*"),
        ("rest_authtoken", "login, no password", "*"),
        ("rest_authtoken_confirm", "login before confirming", "*"),
    ), "Wrong credentials are a validation error, 400 {non_field_errors}, as DRF's obtain_auth_token and durin"
       " answer; 401 is kept for a refused token, with WWW-Authenticate."),
    Deliberate("login-ignores-token-header", (
        ("drf*", "login with the revoked token still in the header", "*"),
        ("rest_authtoken", "login with the revoked token still in the header", "*"),
    ), "login/ reads no token header, as durin's: a client still sending a revoked token can log in again;"
       " DRF's obtain_auth_token, drf_advanced_token's middleware and django-rest-authtoken answered 401."),
    Deliberate("refused-token-as-drf", (
        ("rest_authtoken", "*", "detail"),
        ("durin", "expired token", "detail"),
        ("drf_advanced_token", "check*", "detail"),
        ("drf_advanced_token", "check*", "WWW-Authenticate"),
    ), "A refused token is answered as DRF's TokenAuthentication answers it: 401, WWW-Authenticate: Token,"
       " DRF's messages (translated), plus 'Token has expired.'"),
    Deliberate("check-answers-expiry", (
        ("drf_advanced_token", "check*", "body*"),
    ), "GET token/ answers {expiry} (null: never expires), so one call tells validity and remaining life."),
    Deliberate("logout-is-204", (
        ("drf", "logout", "*"),
    ), "The DRF guide's sample logout view answered 200 {username: null}; our LogoutView answers 204."),
    Deliberate("client-is-optional", (
        ("durin", "login without client", "*"),
        ("durin", "sessions*", "body[].client"),
    ), "A login without client gets a token of no client (DEFAULT_TOKEN_TTL), as the other libraries' logins;"
       " durin refused it with 400."),
    Deliberate("unknown-client-is-a-field-error", (
        ("durin", "login, unknown client", "*"),
    ), "An unknown client is a field error, 400 {client: [...]}, like every other input error."),
    Deliberate("session-fields", (
        ("durin", "sessions*", "body[].id"),
        ("durin", "sessions*", "body[].last_used"),
        ("durin", "sessions*", "body[].user_agent"),
        ("durin", "sessions*", "body[].ip_address"),
    ), "Sessions are GraphQL's Session in snake_case: an opaque string id, last_used, user_agent, ip_address"
       " (null for an imported token) besides durin's fields."),
    Deliberate("slashless-paths-answered", (
        ("durin", "* without slash", "*"),
    ), "durin documents its routes without the trailing slash but serves them with it: APPEND_SLASH redirected"
       " (301, a POST's body lost; a 500 in DEBUG). We answer both in place."),
    Deliberate("revoke-own-session", (
        ("durin", "revoke the session of the request's own token", "*"),
    ), "Revoking the session of the request's own token works (204), as logout does; durin refused with 400."),
    Deliberate("api-key-create-answer", (
        ("durin", "create an API key", "body.*"),
    ), "POST apiaccess/ answers {token, expiry}, API.md's answer; the metadata is GET apiaccess/'s."),
    Deliberate("api-key-shown-once", (
        ("durin", "API key", "body.*"),
    ), "GET apiaccess/ answers the key's session fields and never the key: only its digest is stored. durin"
       " showed it after any POST in the process (its serializer appends 'token' to a shared field list)."),
    Deliberate("api-key-replaced", (
        ("durin", "create a second API key", "*"),
    ), "A second POST apiaccess/ replaces the key (201) rather than refusing with 400."),
    Deliberate("api-key-delete-idempotent", (
        ("durin", "delete the API key when there is none", "*"),
    ), "DELETE apiaccess/ answers 204 whether or not there was a key (the key is gone either way);"
       " durin answered 404 when there was none."),
    Deliberate("register-every-taken-field", (
        ("rest_authtoken_confirm", "register again, same username and email", "body.email*"),
    ), "A registration names every field in use, username and email alike (API.md §9), where"
       " django-rest-authtoken named only the username."),
    Deliberate("register-email-unique", (
        ("rest_authtoken_confirm", "register, new username with a taken email", "*"),
    ), "An email belongs to one account (API.md §9: a field error, unique); django-rest-authtoken registered"
       " a second account with it (201)."),
    Deliberate("register-username-case-insensitive", (
        ("rest_authtoken_confirm", "register, a taken username in another case", "*"),
    ), "Usernames are unique regardless of case (API.md §9, issue 10: 'Alice' and 'alice' cannot be two people);"
       " django-rest-authtoken registered the case variant (201)."),
    Deliberate("confirmation-link-page", (
        ("rest_authtoken_confirm", "open the mailed link", "*"),
        ("rest_authtoken_confirm", "open the used link again", "*"),
        ("rest_authtoken_confirm", "open a made-up link", "*"),
        ("rest_authtoken_confirm", "* / submit", "step"),
    ), "Opening the mailed link shows a page whose button confirms (mail scanners open links); the person ends"
       " where they did: the outcome is compared and the same."),
    Deliberate("invalid-link-plain-text", (
        ("rest_authtoken_confirm", "open the used link again / outcome", "body"),
        ("rest_authtoken_confirm", "open a made-up link / outcome", "body"),
    ), "An invalid link's 400 is text/plain, the 'plain-text and unformatted' message its documentation"
       " promises (the library sent it as text/html)."),
]
