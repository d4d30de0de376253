"""Retries and fatal errors, injected by a wire-protocol proxy in front of the real llama.cpp server."""

from __future__ import annotations

import asyncio
import time

import pytest
from tests_support import FaultProxy

from clinqa_synth.llm.endpoint import EndpointChat
from clinqa_synth.llm.protocol import (
    ContextOverflowError,
    FatalLLMError,
    TransientLLMError,
    TruncatedCompletionError,
)
from clinqa_synth.llm.retry import RetryPolicy, parse_retry_after

pytestmark = pytest.mark.llm
PROMPT = [{"role": "user", "content": "Name the largest organ of the human body in one word."}]
FAST = RetryPolicy(max_retries=4, base_delay_s=0.05, max_delay_s=0.2)


def ask(url: str, **kwargs):
    client = EndpointChat(url, api_key="local", retry=kwargs.pop("retry", FAST), **kwargs)

    async def go():
        try:
            return await client.chat(PROMPT, max_tokens=128, seed=0)
        finally:
            await client.aclose()

    return asyncio.run(go()), client


@pytest.fixture(scope="module")
def clean_text(llm_server) -> str:
    (completion, _) = ask(llm_server.base_url)
    return completion.text


@pytest.mark.parametrize(
    "faults",
    [["503"], ["500", "502"], ["429"], ["reset"], ["malformed-json"], ["empty-content"], ["503", "reset", "429"]],
)
def test_transient_faults_are_retried_to_the_clean_result(llm_server, clean_text, faults) -> None:
    with FaultProxy(llm_server.base_url) as proxy:
        proxy.faults.extend(faults)
        completion, client = ask(proxy.url)
    assert completion.text == clean_text
    assert client.accounting.retries == len(faults)
    assert proxy.chat_requests == len(faults) + 1


def test_retry_after_is_honoured(llm_server, clean_text) -> None:
    with FaultProxy(llm_server.base_url) as proxy:
        proxy.faults.append("429-retry-after")  # Retry-After: 1
        started = time.monotonic()
        completion, _ = ask(proxy.url)
    assert completion.text == clean_text
    assert time.monotonic() - started >= 1.0


def test_request_slower_than_the_timeout_is_retried(llm_server, clean_text) -> None:
    # memoized: the real answer is fetched once first, so the retry is instant however busy the cores are and
    # only the injected slowness (4 s) can pass the 2 s timeout
    with FaultProxy(llm_server.base_url, slow_s=4.0, memoize=True) as proxy:
        warm, _ = ask(proxy.url, timeout_s=600.0)
        proxy.faults.append("slow")
        completion, client = ask(proxy.url, timeout_s=2.0)
    assert completion.text == warm.text and client.accounting.retries == 1


@pytest.mark.parametrize("status", ["401", "403", "404"])
def test_fatal_status_fails_fast_without_retrying(llm_server, status) -> None:
    with FaultProxy(llm_server.base_url) as proxy:
        proxy.default_fault = status
        with pytest.raises(FatalLLMError) as info:
            ask(proxy.url)
        assert proxy.chat_requests == 1
    assert f"HTTP {status}" in str(info.value)
    assert ("--api-key" in str(info.value)) if status != "404" else ("--endpoint" in str(info.value))


def test_context_overflow_is_its_own_fatal_error(llm_server) -> None:
    with FaultProxy(llm_server.base_url) as proxy:
        proxy.default_fault = "400-context"
        with pytest.raises(ContextOverflowError, match="context window"):
            ask(proxy.url)
        assert proxy.chat_requests == 1


def test_truncated_completion_is_a_failed_call_not_data(llm_server) -> None:
    with FaultProxy(llm_server.base_url) as proxy:
        proxy.default_fault = "truncated"
        with pytest.raises(TruncatedCompletionError, match="max_tokens"):
            ask(proxy.url)
        assert proxy.chat_requests == 2  # one retry, then give up


def test_persistent_503_gives_up_with_a_clear_message(llm_server) -> None:
    with FaultProxy(llm_server.base_url) as proxy:
        proxy.default_fault = "503"
        with pytest.raises(TransientLLMError, match="gave up after 5 tries"):
            ask(proxy.url)
        assert proxy.chat_requests == 5


def test_unreachable_endpoint_names_the_server() -> None:
    with pytest.raises(TransientLLMError, match="is the server running"):
        ask("http://127.0.0.1:9", retry=RetryPolicy(max_retries=1, base_delay_s=0.01))


def test_parse_retry_after_forms() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("garbage") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # a date in the past → no wait


def test_backoff_grows_and_is_capped() -> None:
    policy = RetryPolicy(base_delay_s=1.0, max_delay_s=8.0)
    assert 0.5 <= policy.delay(1) <= 1.0
    assert 4.0 <= policy.delay(4) <= 8.0
    assert 4.0 <= policy.delay(10) <= 8.0
    assert policy.delay(1, retry_after=2.5) == 2.5
