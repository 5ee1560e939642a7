"""Who is calling: the client's IP address and user agent, as throttling and the sessions list see them."""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

from . import inputs
from .conf import auth_settings
from .models import AuthToken

if TYPE_CHECKING:
    from django.http import HttpRequest


def client_ip(request: HttpRequest | None) -> str | None:
    """The caller's IP address, or None when there is no valid one.

    ``REMOTE_ADDR``, unless ``CLIENT_IP_HEADER`` names a header set by your own
    proxy; then its last address, the one that proxy appended (addresses
    further left come from the client and can be forged). An IPv4-mapped IPv6
    address (``::ffff:203.0.113.9``, what a dual-stack socket reports for an
    IPv4 client) is given as the IPv4 address it carries, and an IPv6 zone id
    (``fe80::1%eth0``) is dropped: it names an interface of the machine that
    saw the address, not the caller, and no ``GenericIPAddressField`` column
    (PostgreSQL's ``inet``) stores it. So the value is always storable as
    ``AuthToken.ip_address`` and is what throttling counts (``throttling.ip_bucket``).
    """
    if request is None:
        return None
    header = auth_settings.CLIENT_IP_HEADER
    value = request.META.get(header, "").split(",")[-1] if header else request.META.get("REMOTE_ADDR", "")
    try:
        address = ipaddress.ip_address(_without_zone(_without_port(str(value).strip())))
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)
    return str(mapped or address)


def _without_port(value: str) -> str:
    """The address of ``203.0.113.9:1111``, ``[2001:db8::1]:443`` or ``[2001:db8::1]``
    (proxies that append the client's port); other values as they are."""
    if value.startswith("["):
        return value[1:].split("]", 1)[0]
    host, colon, port = value.rpartition(":")
    return host if colon and "." in host and ":" not in host and port.isdigit() else value


def _without_zone(value: str) -> str:
    """An IPv6 address without its zone id (``fe80::1%eth0``); other values as they are."""
    return value.partition("%")[0] if ":" in value else value


def user_agent(request: HttpRequest | None) -> str:
    """The request's ``User-Agent``, as the sessions list shows it (storable, cut to the column)."""
    if request is None:
        return ""
    value = str(request.META.get("HTTP_USER_AGENT", ""))
    return inputs.sanitized(value, max_length=AuthToken._meta.get_field("user_agent").max_length)

