"""Where patient text may go, and how secrets are kept out of anything we print or write.

Documents are patient data: by default they may only be sent to an endpoint on this machine
(loopback) or on a private network the user controls. Anything else needs an explicit
`--allow-remote-endpoint`, and that choice is recorded with the dataset.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from urllib.parse import urlsplit, urlunsplit

from clinqa_synth.llm.protocol import FatalLLMError


class RemoteEndpointRefused(FatalLLMError):
    """The endpoint is neither loopback nor private and the user did not allow remote endpoints."""


def _is_local_address(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback or ip.is_private or ip.is_link_local


def endpoint_is_local(url: str) -> bool:
    """True when every address the endpoint's host resolves to is loopback or private.

    A host name that resolves to several addresses counts as local only if all of them are,
    so a DNS name cannot smuggle documents to a public address.
    """
    host = urlsplit(url).hostname
    if not host:
        return False
    try:
        return _is_local_address(host)
    except ValueError:
        pass  # a host name, not a literal address
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    addresses = {info[4][0] for info in infos}
    return bool(addresses) and all(_is_local_address(a) for a in addresses)


def check_endpoint_allowed(url: str, *, allow_remote: bool) -> None:
    """Refuse to send patient documents to a public endpoint unless the user said so explicitly."""
    if allow_remote or endpoint_is_local(url):
        return
    raise RemoteEndpointRefused(
        f"Refusing to send documents to {redact_url(url)}: it is not a loopback or private-network address, "
        "and clinical documents are patient data. If this endpoint is covered by your data-use agreement, "
        "pass --allow-remote-endpoint (the choice is recorded in the dataset card)."
    )


def redact_url(url: str) -> str:
    """Drop credentials (user:password@) and the query string from a URL before it is shown or stored."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable url>"
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    if ":" in (parts.hostname or "") and not host.startswith("["):
        host = f"[{parts.hostname}]" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


_SECRET_PATTERNS = [
    re.compile(r"hf_[A-Za-z0-9]{20,}"),
    re.compile(r"sk-[A-Za-z0-9_\-]{16,}"),
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._\-]{8,}"),
    re.compile(r"(?<=://)[^/@\s:]+:[^/@\s]+(?=@)"),
]


def redact(text: str, secrets: list[str] | tuple[str, ...] = ()) -> str:
    """Remove known secrets and anything shaped like a token or URL credential from `text`."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda m: (m.group(1) if m.groups() else "") + "***", text)
    return text
