"""Requests as a client sends them, answers in comparable form, and the comparison."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

if TYPE_CHECKING:
    from .libraries import Project

PASSWORD = "correct horse battery staple"
REDIRECTS = (301, 302, 303, 307, 308)
_JSON_TYPES = {type(None): "null", bool: "bool", int: "int", float: "float", str: "str", list: "list",
               dict: "object"}


# ISO 8601 as DRF's DateTimeField writes it (``2025-01-31T12:00:00.123456Z``, or an offset).
_DATETIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:?\d\d)?")


def shape(value: Any, path: str = "$", into: dict[str, str] | None = None) -> dict[str, str]:
    """Every path of a JSON value with its type: ``{"$": "object", "$.token": "str"}``;
    an ISO 8601 string is a ``datetime``.

    List items are merged (``$.[]``), so a list's length never matters, and a
    key that some items lack or type that varies shows as a union (``int|null``).
    """
    into = {} if into is None else into
    kinds = set(into[path].split("|")) if path in into else set()
    kind = _JSON_TYPES[type(value)]
    if kind == "str" and _DATETIME.fullmatch(value):
        kind = "datetime"  # a client parses these: a change of format is a change of type
    into[path] = "|".join(sorted(kinds | {kind}))
    if isinstance(value, dict):
        for key, item in value.items():
            shape(item, f"{path}.{key}", into)
    elif isinstance(value, list):
        for item in value:
            shape(item, f"{path}[]", into)
    return into


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    content: bytes
    body: Any = None  # the parsed JSON, None for anything else

    def __getitem__(self, key: Any) -> Any:
        return self.body[key]

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "").split(";")[0].strip()

    def aspects(self) -> dict[str, str]:
        """What the comparison looks at, each as a string."""
        aspects = {"status": str(self.status)}
        for header in ("WWW-Authenticate",) + (("Location",) if self.status in REDIRECTS else ()):
            if header in self.headers:
                aspects[header] = self.headers[header]
        if not self.content:
            aspects["body"] = "empty"
        elif self.content_type == "application/json":
            aspects.update({"body" + path[1:]: kind for path, kind in shape(self.body).items()})
        else:
            aspects["body"] = self.content_type
        if self.status in (401, 403) and isinstance(self.body, dict) and isinstance(self.body.get("detail"), str):
            aspects["detail"] = self.body["detail"]  # DRF's authentication messages are part of the contract
        return aspects


class Flow:
    """One run of a library's client flow: every request as that client sends it, recorded.

    Each request gets its own test client (a client like curl: no cookies, CSRF
    enforced as for any real client), except within ``open_link`` (a browser).
    """

    def __init__(self, project: Project, side: str, handover: str | None = None):
        self.project, self.side, self.handover = project, side, handover
        self.steps: dict[str, dict[str, str]] = {}

    # --- what both sides do differently: where the first token comes from, server-side events

    def start_token(self, issued: str) -> str:
        """The token the flow goes on with: the one just issued by the real library, or,
        after the switch, the one that library issued before it and ``import_tokens`` carried over."""
        return issued if self.side == "legacy" else self.handover  # type: ignore[return-value]

    def expire(self, token: str) -> None:
        """Time passes: ``token`` is past its expiry (the server's view, not a request)."""
        if self.side == "legacy":
            self.project.expire_legacy_token(token)
        else:
            from datetime import timedelta

            from django.utils import timezone

            from gql_authtoken import tokens
            from gql_authtoken.cache import invalidate_user_tokens
            from gql_authtoken.models import AuthToken

            instance = tokens.authenticate_token(token)
            AuthToken.objects.filter(pk=instance.pk).update(expiry=timezone.now() - timedelta(seconds=1))
            invalidate_user_tokens(instance.user)

    def mailed_link(self, to: str) -> str:
        """The path of the confirmation link last mailed to ``to``."""
        from django.core import mail

        [message, *_] = [m for m in reversed(mail.outbox) if to in m.to]
        return re.search(r"https?://[^/\s]+(/\S+)", message.body).group(1)

    # --- requests

    def request(self, step: str, method: str, path: str, *, token: str | None = None,
                authorization: str | None = None, json_body: Any = None, form: dict[str, str] | None = None,
                headers: dict[str, str] | None = None, address: str = "127.0.0.1", browser: Any = None) -> Answer:
        """Send one request and record its answer as ``step``.

        ``token`` sends ``Authorization: Token <token>``; ``authorization`` any header
        value as is. ``json_body`` is sent as JSON, ``form`` url-encoded (``curl --data``).
        """
        from django.test import Client

        headers = dict(headers or {})
        if token is not None:
            headers["Authorization"] = f"Token {token}"
        if authorization is not None:
            headers["Authorization"] = authorization
        data, content_type = b"", None
        if json_body is not None:
            data, content_type = json.dumps(json_body), "application/json"
        elif form is not None:
            data, content_type = urlencode(form), "application/x-www-form-urlencoded"
        client = browser or Client(enforce_csrf_checks=True)
        kwargs = {"content_type": content_type} if content_type else {}
        response = client.generic(method, path, data, headers=headers, REMOTE_ADDR=address, **kwargs)
        answer = Answer(response.status_code, dict(response.headers.items()), response.content)
        if answer.content and answer.content_type == "application/json":
            answer.body = json.loads(answer.content)
        self.record(step, answer.aspects())
        return answer

    def get(self, step: str, path: str, **kwargs: Any) -> Answer:
        return self.request(step, "GET", path, **kwargs)

    def post(self, step: str, path: str, **kwargs: Any) -> Answer:
        return self.request(step, "POST", path, **kwargs)

    def put(self, step: str, path: str, **kwargs: Any) -> Answer:
        return self.request(step, "PUT", path, **kwargs)

    def delete(self, step: str, path: str, **kwargs: Any) -> Answer:
        return self.request(step, "DELETE", path, **kwargs)

    def open_link(self, step: str, path: str) -> Answer:
        """A person opens a mailed link in a browser: ``step`` is the GET; when it
        shows a page with a form (a button), the browser submits it as
        ``step + " / submit"``. ``step + " / outcome"`` records where the person ends up."""
        from django.test import Client

        browser = Client(enforce_csrf_checks=True)
        answer = self.get(step, path, browser=browser)
        form = re.search(rb'<form[^>]*method="post"[^>]*>(.*?)</form>', answer.content, re.S | re.I)
        if answer.status == 200 and form:
            fields = dict(re.findall(rb'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', form.group(1)))
            action = re.search(rb'action="([^"]*)"', form.group(0))
            target = action.group(1).decode() if action and action.group(1) else path
            answer = self.post(step + " / submit", target, browser=browser,
                               form={k.decode(): v.decode() for k, v in fields.items()})
        self.record(step + " / outcome", answer.aspects())
        return answer

    def documented(self, answer: Answer, status: int) -> None:
        """The library's documentation promises ``status`` here: the real library must
        answer it (so the script follows the documents); ours is compared, not asserted."""
        if self.side == "legacy":
            assert answer.status == status, (self.project.name, status, answer)

    def fact(self, name: str, value: Any) -> None:
        """Record something the client can tell from its answers, compared by value."""
        self.record(name, {"fact": json.dumps(value)})

    def record(self, step: str, aspects: dict[str, str]) -> None:
        assert step not in self.steps, f"step {step!r} twice in one flow"
        self.steps[step] = aspects


# --- comparing two runs


@dataclass(frozen=True, order=True)
class Difference:
    project: str
    step: str
    aspect: str
    legacy: str
    ours: str

    def __str__(self) -> str:
        return f"{self.project} | {self.step} | {self.aspect}: {self.legacy!r} -> {self.ours!r}"


ABSENT = "(absent)"


def compare(project: str, legacy: dict[str, dict[str, str]], ours: dict[str, dict[str, str]]) -> list[Difference]:
    """Every aspect of every step in which the two runs differ."""
    differences = []
    for step in legacy.keys() | ours.keys():
        if step not in legacy or step not in ours:  # the flow branched on an answer (open_link)
            differences.append(Difference(project, step, "step", "run" if step in legacy else ABSENT,
                                          "run" if step in ours else ABSENT))
            continue
        for aspect in legacy[step].keys() | ours[step].keys():
            before, after = legacy[step].get(aspect, ABSENT), ours[step].get(aspect, ABSENT)
            if before != after:
                differences.append(Difference(project, step, aspect, before, after))
    return sorted(differences)


@dataclass(frozen=True)
class Deliberate:
    """A difference we mean, with its reason; ``id`` is its anchor in docs/migrating.md.

    ``where`` lists ``(project, step, aspect)`` patterns (``*`` for anything); each must
    match at least one actual difference, so a difference that is gone is
    removed from this table and the docs as well.
    """

    id: str
    where: tuple[tuple[str, str, str], ...]
    reason: str = field(repr=False)

    def covers(self, difference: Difference, where: tuple[str, str, str] | None = None) -> bool:
        return any(glob(project, difference.project) and glob(step, difference.step)
                   and glob(aspect, difference.aspect) for project, step, aspect in ([where] if where else self.where))


    @staticmethod
    def covers_project(project: str, where: tuple[str, str, str]) -> bool:
        return glob(where[0], project)


def glob(pattern: str, text: str) -> bool:
    """``*`` matches anything; every other character only itself (aspects contain ``[]``)."""
    return re.fullmatch(".*".join(map(re.escape, pattern.split("*"))), text) is not None
