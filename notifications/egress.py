"""Where production may send a webhook: public addresses only, so a registered URL cannot reach inside."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit


def not_public(url: str) -> str | None:
    """Why `url` must not be called from production (its host resolves to an address that is not public), or None.

    Checked when a webhook is registered and again before each delivery (the name may resolve elsewhere by then).
    A name that resolves anew between this check and the connection is not caught: an egress proxy is the place.
    """
    host = urlsplit(url).hostname or ""
    try:
        addresses = {str(info[4][0]) for info in socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)}
    except (socket.gaierror, UnicodeError):
        return f"{host} does not resolve"
    for address in sorted(addresses):
        if not ipaddress.ip_address(address.partition("%")[0]).is_global:
            return f"{host} resolves to {address}, which is not a public address"
    return None
