"""Patient data only goes to loopback/private endpoints unless allowed; secrets never show."""

from __future__ import annotations

import pytest

from clinqa_synth.llm.endpoint import EndpointChat
from clinqa_synth.llm.safety import RemoteEndpointRefused, endpoint_is_local, redact, redact_url


@pytest.mark.parametrize(
    "url,local",
    [
        ("http://127.0.0.1:8080", True),
        ("http://localhost:8000/v1", True),
        ("http://[::1]:8000", True),
        ("http://10.1.2.3:8000", True),
        ("http://192.168.0.5", True),
        ("http://172.20.0.1", True),
        ("http://8.8.8.8:443", False),
        ("https://203.0.114.7", False),
        ("not a url", False),
    ],
)
def test_endpoint_locality(url: str, local: bool) -> None:
    assert endpoint_is_local(url) is local


def test_public_endpoint_is_refused_before_any_request() -> None:
    with pytest.raises(RemoteEndpointRefused, match="--allow-remote-endpoint"):
        EndpointChat("http://8.8.8.8:8000", api_key="x")


def test_public_endpoint_allowed_explicitly() -> None:
    chat = EndpointChat("http://8.8.8.8:8000/v1", api_key="x", allow_remote=True)  # constructing sends nothing
    assert chat.base_url == "http://8.8.8.8:8000" and chat.accounting.calls == 0


def test_redaction_of_urls_and_tokens() -> None:
    assert redact_url("https://user:s3cret@host.example:8443/v1?token=abc") == "https://host.example:8443/v1"
    text = "failed with hf_abcdefghijklmnopqrstuvwxyz123 at https://bob:pw@host/v1 Bearer sk-1234567890abcdefXYZ"
    cleaned = redact(text, ("pw",))
    assert "hf_abcdefghijklmnopqrstuvwxyz123" not in cleaned
    assert "bob:pw" not in cleaned and "sk-1234567890abcdefXYZ" not in cleaned
