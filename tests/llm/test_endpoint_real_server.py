"""The endpoint client against the real embedded llama.cpp server (no mock of the server)."""

from __future__ import annotations

import asyncio
import json
import os

import pytest

from clinqa_synth.llm.cache import CachedChat, CompletionCache
from clinqa_synth.llm.endpoint import EndpointChat

pytestmark = pytest.mark.llm


def run(coro):
    return asyncio.run(coro)


async def _chat(client: EndpointChat, prompt: str, **kwargs):
    try:
        return await client.chat([{"role": "user", "content": prompt}], **kwargs)
    finally:
        await client.aclose()


def test_round_trip_reports_text_usage_and_finish_reason(llm_server) -> None:
    client = EndpointChat(llm_server.base_url, api_key="local")
    completion = run(_chat(client, "Say hello in one word.", max_tokens=16, seed=1))
    assert completion.text.strip()
    assert completion.finish_reason == "stop"
    assert completion.usage.prompt_tokens > 0 and completion.usage.completion_tokens > 0
    assert client.accounting.calls == 1 and client.accounting.completion_tokens == completion.usage.completion_tokens


def test_a_repeated_request_returns_the_same_text_through_the_cache(llm_server, tmp_path) -> None:
    """What a user relies on for reproducibility: a re-run returns byte-identical completions.

    llama.cpp's own greedy output is not guaranteed identical across calls (its KV-prefix reuse can flip a
    near-tie), so the guarantee comes from the completion cache: the second identical request never reaches
    the server and returns exactly the first text.
    """
    from clinqa_synth.llm.accounting import Accounting
    from clinqa_synth.llm.cache import CachedChat, CompletionCache

    prompt = [{"role": "user", "content": "List three bones of the human arm, comma separated."}]
    accounting = Accounting()
    endpoint = EndpointChat(llm_server.base_url, api_key="local", accounting=accounting)
    chat = CachedChat(endpoint, CompletionCache(tmp_path / "cache"), accounting=accounting)

    async def twice():
        try:
            first = await chat.chat(prompt, max_tokens=128, seed=7)
            second = await chat.chat(prompt, max_tokens=128, seed=7)
        finally:
            await endpoint.aclose()
        return first, second

    first, second = run(twice())
    assert first.text.strip() and second.text == first.text
    assert (accounting.calls, accounting.cache_hits) == (1, 1)


def test_concurrent_calls_all_complete(llm_server) -> None:
    client = EndpointChat(llm_server.base_url, api_key="local", concurrency=4)

    async def many():
        try:
            return await asyncio.gather(
                *[
                    client.chat(
                        [{"role": "user", "content": f"What is {i} plus {i}? Answer with a number."}],
                        max_tokens=12,
                        seed=0,
                    )
                    for i in range(4)
                ]
            )
        finally:
            await client.aclose()

    completions = run(many())
    assert len(completions) == 4 and all(c.text.strip() for c in completions)
    assert client.accounting.calls == 4


def test_json_schema_output_is_honoured_by_llama_cpp(llm_server) -> None:
    schema = {
        "type": "object",
        "properties": {"organ": {"type": "string"}, "count": {"type": "integer"}},
        "required": ["organ", "count"],
    }
    client = EndpointChat(llm_server.base_url, api_key="local", structured="llama-cpp-python")
    completion = run(
        _chat(client, "Name one organ and how many humans have.", max_tokens=64, seed=0, response_format=schema)
    )
    data = json.loads(completion.text)  # constrained decoding: plain JSON, no fences or prose
    assert isinstance(data["organ"], str) and isinstance(data["count"], int)


def test_rerun_is_served_from_cache_with_zero_requests(llm_server, tmp_path) -> None:
    from tests_support import FaultProxy

    with FaultProxy(llm_server.base_url) as proxy:
        prompts = ["Name one lung lobe in two words.", "Name one heart valve in two words."]

        async def generate() -> list[str]:
            endpoint = EndpointChat(proxy.url, api_key="local")
            cache = CompletionCache(tmp_path / "cache")
            chat = CachedChat(endpoint, cache, prompt_version="v1")
            try:
                out = [(await chat.chat([{"role": "user", "content": p}], max_tokens=96, seed=0)).text for p in prompts]
            finally:
                await endpoint.aclose()
                cache.close()
            return out

        first = run(generate())
        assert proxy.chat_requests == 2
        second = run(generate())
        assert second == first
        assert proxy.chat_requests == 2, "a re-run must not reach the server"
    assert oct(os.stat(tmp_path / "cache" / "completions.sqlite3").st_mode & 0o777) == "0o600"


def test_server_stop_leaves_no_process(small_model_path, tmp_path) -> None:
    from clinqa_synth.llm.server import EmbeddedServer

    server = EmbeddedServer(small_model_path, runtime="llama-cpp-python", n_ctx=2048)
    server.start()
    pid = server.pid
    assert pid is not None
    server.stop()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_hf_hub_offline_mode_does_not_block_the_users_own_server(llm_server, monkeypatch) -> None:
    """HF_HUB_OFFLINE=1 is common on hospital machines; it must not stop calls to a local LLM server."""
    import huggingface_hub.constants as constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    completion = run(_chat(EndpointChat(llm_server.base_url, api_key="local"), "Say yes.", max_tokens=32, seed=0))
    assert completion.text.strip()
