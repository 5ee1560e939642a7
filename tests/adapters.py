"""Adapters for the parity tests: one interface over GraphQL (sync, async) and REST.

Each turns a response into ``"ok"`` or the error code a client would read from
it (GraphQL: the ``OperationInfo`` / ``extensions`` code; REST: the status and
DRF message), so one expected outcome serves all three.
"""

from __future__ import annotations

import json

from rest_framework.test import APIClient
from strawberry.utils.str_converters import to_snake_case

from .conftest import LOGIN, GraphQLClient, operation_code

REST_CODES = {
    (400, "Unable to log in with provided credentials."): "invalid_credentials",
    (400, "User account is disabled."): "inactive_user",
    (400, "Unknown client."): "unknown_client",
    (401, "Authentication credentials were not provided."): "not_authenticated",
    (401, "Invalid token."): "invalid_token",
    (401, "Token has expired."): "token_expired",
    (404, "Session not found."): "session_not_found",
    (404, "Registration is disabled."): "registration_disabled",
}

REGISTER = """mutation Register($username: String!, $password: String!, $email: String) {
  register(username: $username, password: $password, email: $email) {
    __typename
    ... on RegisterResult { success emailConfirmationRequired user { username email } }
    ... on OperationInfo { messages { field message code } }
  }
}"""


CHANGE_EMAIL = """mutation ChangeEmail($password: String!, $newEmail: String!) {
  changeEmail(password: $password, newEmail: $newEmail) {
    __typename
    ... on ChangeEmailResult { success emailConfirmationRequired }
    ... on OperationInfo { messages { field message code } }
  }
}"""


def change_email_outcome(success: bool, email_confirmation_required: bool) -> str:
    """``"confirm"`` when the new address waits for its link, ``"changed"`` when it took effect."""
    assert success is True
    return "confirm" if email_confirmation_required else "changed"


def graphql_outcome(result):
    """``"ok"``, the code, or ``{field: [messages]}`` for field errors (fields by their
    REST names: GraphQL's ``newPassword`` is REST's ``new_password``)."""
    if result["__typename"] != "OperationInfo":
        return "ok"
    messages = result["messages"]
    if messages[0]["field"]:
        fields = {}
        for message in messages:
            fields.setdefault(to_snake_case(message["field"]), []).append(message["message"])
        return fields
    return messages[0]["code"]


CHANGE_PASSWORD = """mutation Change($old: String!, $new: String!) {
  changePassword(oldPassword: $old, newPassword: $new) {
    __typename
    ... on ChangePasswordResult { success revokedSessions }
    ... on OperationInfo { messages { field message code } }
  }
}"""
SEND_PASSWORD_RESET_EMAIL = """mutation Send($email: String!) {
  sendPasswordResetEmail(email: $email) {
    __typename
    ... on SendPasswordResetEmailResult { success }
    ... on OperationInfo { messages { field message code } }
  }
}"""
RESET_PASSWORD = """mutation Reset($token: String!, $new: String!) {
  resetPassword(token: $token, newPassword: $new) {
    __typename
    ... on ResetPasswordResult { success revokedSessions }
    ... on OperationInfo { messages { field message code } }
  }
}"""


class GraphQLAdapter:
    def __init__(self, kind, remote_addr="127.0.0.1"):
        self.gql = GraphQLClient(kind, remote_addr)

    def at(self, remote_addr):
        """The same adapter, its requests coming from ``remote_addr``."""
        return GraphQLAdapter(self.gql.kind, remote_addr)

    def login(self, username, password, client=None):
        result = self.gql(LOGIN, {"username": username, "password": password, "client": client})["data"]["login"]
        return ("ok", result["token"]) if result["__typename"] == "LoginResult" else (operation_code(result), None)

    def _mutate(self, field, fragment, token):
        query = "mutation { %s { __typename ... on %s ... on OperationInfo { messages { code } } } }"
        result = self.gql(query % (field, fragment), token=token)["data"][field.split("(")[0]]
        return result, operation_code(result) or "ok"

    def logout(self, token):
        return self._mutate("logout", "LogoutResult { revokedSessions }", token)[1]

    def logout_all(self, token):
        return self._mutate("logoutAll", "LogoutResult { revokedSessions }", token)[1]

    def refresh(self, token):
        return self._mutate("refresh", "RefreshResult { expiry }", token)[1]

    def rotate(self, token):
        result, code = self._mutate("refresh(rotate: true)", "RefreshResult { token }", token)
        return code, result.get("token")

    def revoke_session(self, token, session_id):
        return self._mutate(f'revokeSession(id: "{session_id}")', "LogoutResult { revokedSessions }", token)[1]

    def register(self, username, password, email=None, **headers):
        variables = {"username": username, "password": password, "email": email}
        return graphql_outcome(self.gql(REGISTER, variables, **headers)["data"]["register"])

    def confirm_email(self, token):
        query = ("mutation C($t: String!) { confirmEmail(token: $t) "
                 "{ __typename ... on OperationInfo { messages { field message code } } } }")
        return graphql_outcome(self.gql(query, {"t": token})["data"]["confirmEmail"])

    def change_email(self, token, password, new_email):
        """As ``change_email_outcome``, a code, or field errors by the core's (REST's) names:
        GraphQL's ``newEmail`` is read back as ``new_email``."""
        variables = {"password": password, "newEmail": new_email}
        result = self.gql(CHANGE_EMAIL, variables, token=token)["data"]["changeEmail"]
        if result["__typename"] == "ChangeEmailResult":
            return change_email_outcome(result["success"], result["emailConfirmationRequired"])
        outcome = graphql_outcome(result)
        if isinstance(outcome, dict):
            return {"new_email" if field == "newEmail" else field: messages for field, messages in outcome.items()}
        return outcome

    def check(self, token):
        result = self.gql("{ sessions { id } }", token=token)
        return result["errors"][0]["extensions"]["code"] if result.get("errors") else "ok"

    # Passwords: (outcome, revoked sessions or None); sendPasswordResetEmail: the outcome.

    def change_password(self, token, old_password, new_password):
        result = self.gql(CHANGE_PASSWORD, {"old": old_password, "new": new_password}, token=token)
        result = result["data"]["changePassword"]
        if result["__typename"] == "ChangePasswordResult":
            assert result["success"] is True
        return graphql_outcome(result), result.get("revokedSessions")

    def send_password_reset_email(self, email, **headers):
        result = self.gql(SEND_PASSWORD_RESET_EMAIL, {"email": email}, **headers)["data"]["sendPasswordResetEmail"]
        assert result["__typename"] == "OperationInfo" or result == {
            "__typename": "SendPasswordResetEmailResult", "success": True}
        return graphql_outcome(result)

    def reset_password(self, token, new_password):
        result = self.gql(RESET_PASSWORD, {"token": token, "new": new_password})["data"]["resetPassword"]
        if result["__typename"] == "ResetPasswordResult":
            assert result["success"] is True
        return graphql_outcome(result), result.get("revokedSessions")


class RestAdapter:
    def __init__(self, remote_addr="127.0.0.1"):
        self.api = APIClient(REMOTE_ADDR=remote_addr)

    def at(self, remote_addr):
        """The same adapter, its requests coming from ``remote_addr``."""
        return RestAdapter(remote_addr)

    def _call(self, method, path, token=None, data=None):
        self.api.credentials(**({"HTTP_AUTHORIZATION": f"Token {token}"} if token else {}))
        response = getattr(self.api, method)(path, data, format="json")
        if response.status_code < 300:
            return "ok", (response.json() if response.content else None)
        body = response.json()
        if response.status_code == 429:
            return "throttled", None
        message = body.get("detail") or (body.get("non_field_errors") or body.get("client"))[0]
        return REST_CODES[(response.status_code, message)], None

    def login(self, username, password, client=None):
        data = {"username": username, "password": password, **({"client": client} if client else {})}
        code, body = self._call("post", "/auth/login/", data=data)
        return code, body and body["token"]

    def logout(self, token):
        return self._call("post", "/auth/logout/", token)[0]

    def logout_all(self, token):
        return self._call("post", "/auth/logoutall/", token)[0]

    def refresh(self, token):
        return self._call("post", "/auth/refresh/", token)[0]

    def rotate(self, token):
        code, body = self._call("put", "/auth/token/", token)
        return code, body and body["token"]

    def revoke_session(self, token, session_id):
        return self._call("delete", f"/auth/sessions/{session_id}/", token)[0]

    def check(self, token):
        return self._call("get", "/auth/token/", token)[0]

    def register(self, username, password, email=None, **headers):
        data = {"username": username, "password": password, **({"email": email} if email is not None else {})}
        headers = {name.replace("_", "-"): value for name, value in headers.items()}
        response = self.api.post("/auth/register/", data, format="json", headers=headers)
        if response.status_code == 201:
            assert response.json() == {"success": True}
            return "ok"
        body = response.json()
        if response.status_code == 400:
            return body
        if response.status_code == 429:
            return "throttled"
        return REST_CODES[(response.status_code, body["detail"])]

    def _post_password(self, path, data, token=None):
        self.api.credentials(**({"HTTP_AUTHORIZATION": f"Token {token}"} if token else {}))
        # ensure_ascii: a lone surrogate travels as its escape, as in a GraphQL variable.
        response = self.api.post(path, json.dumps(data), content_type="application/json")
        body = response.json()
        if response.status_code == 200:
            return "ok", body
        if response.status_code == 429:
            return "throttled", None
        if response.status_code == 400:
            if set(body) == {"token"}:  # the link: GraphQL's code without a field
                assert response.data["token"][0].code == "invalid_reset_token"
                return "invalid_reset_token", None
            return body, None
        return REST_CODES[(response.status_code, body["detail"])], None

    def change_password(self, token, old_password, new_password):
        code, body = self._post_password("/auth/password/change/",
                                          {"old_password": old_password, "new_password": new_password}, token)
        return code, body and body["revoked_sessions"]

    def send_password_reset_email(self, email, **headers):
        headers = {name.replace("_", "-"): value for name, value in headers.items()}
        response = self.api.post("/auth/password/reset/", {"email": email}, format="json", headers=headers)
        if response.status_code == 429:
            return "throttled"
        assert (response.status_code, response.json()) == (200, {"success": True})
        return "ok"

    def reset_password(self, token, new_password):
        code, body = self._post_password("/auth/password/reset/confirm/",
                                          {"token": token, "new_password": new_password})
        if code == "ok":
            assert body == {"success": True}
        return code, None  # REST does not say how many sessions ended

    def confirm_email(self, token):
        """The button of the link's page: a POST to the link (the test client skips CSRF)."""
        from django.conf import settings

        response = self.api.post(f"/auth/register/confirm/{token}/")
        invalid_path = settings.GQL_AUTHTOKEN.get("REGISTRATION_CONFIRM_INVALID_REDIRECT_PATH")
        if response.status_code == 302 and response["Location"] != invalid_path:
            return "ok"
        if response.status_code == 429:
            return "throttled"
        assert response.status_code in (302, 400), response
        return "invalid_confirmation_token"

    def change_email(self, token, password, new_email):
        self.api.credentials(**({"HTTP_AUTHORIZATION": f"Token {token}"} if token else {}))
        response = self.api.post("/auth/email/change/", {"password": password, "new_email": new_email}, format="json")
        body = response.json()
        if response.status_code == 200:
            assert set(body) == {"success", "email_confirmation_required"}, body
            return change_email_outcome(body["success"], body["email_confirmation_required"])
        if response.status_code == 400:
            return body
        if response.status_code == 429:
            return "throttled"
        return REST_CODES[(response.status_code, body["detail"])]
