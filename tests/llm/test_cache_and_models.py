"""The completion cache's durability and the packaged-model assembly checks."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from conftest import require

from clinqa_synth.llm.cache import CacheCorruptError, CachedChat, CompletionCache, cache_key
from clinqa_synth.llm.models import (
    PACKAGED_MODELS,
    SMALL_MODEL,
    ModelUnavailableError,
    PackagedModel,
    assemble,
    resolve_model,
)
from clinqa_synth.llm.protocol import Completion, Usage


def test_cache_round_trip_survives_reopen(tmp_path: Path) -> None:
    cache = CompletionCache(tmp_path)
    cache.put("k", Completion("answer", "stop", Usage(3, 4), "m"))
    cache.close()
    again = CompletionCache(tmp_path)
    hit = again.get("k")
    assert hit is not None and hit.text == "answer" and hit.cached and hit.usage.completion_tokens == 4
    assert len(again) == 1


def test_corrupted_cache_file_is_reported_not_used(tmp_path: Path) -> None:
    (tmp_path / "completions.sqlite3").write_bytes(b"this is not a database" * 100)
    with pytest.raises(CacheCorruptError, match="Delete it"):
        CompletionCache(tmp_path)


def test_tampered_entry_fails_its_checksum(tmp_path: Path) -> None:
    cache = CompletionCache(tmp_path)
    cache.put("k", Completion("answer", "stop"))
    cache._db.execute("UPDATE completions SET text='forged' WHERE key='k'")
    with pytest.raises(CacheCorruptError, match="checksum"):
        cache.get("k")


def test_cache_key_covers_model_messages_params_and_prompt_version() -> None:
    messages = [{"role": "user", "content": "x"}]
    base = cache_key("m", messages, {"temperature": 0}, "v1")
    assert base != cache_key("m2", messages, {"temperature": 0}, "v1")
    assert base != cache_key("m", [{"role": "user", "content": "y"}], {"temperature": 0}, "v1")
    assert base != cache_key("m", messages, {"temperature": 1}, "v1")
    assert base != cache_key("m", messages, {"temperature": 0}, "v2")


def test_a_word_biased_call_is_its_own_cache_entry_found_again_without_a_tokenizer(tmp_path: Path) -> None:
    """The key holds the words and their bias (not token ids), so a re-run is served from the cache before any
    tokenize request; an unbiased call of the same prompt is another entry."""

    class Inner:
        model_id = "m"
        supports_word_bias = True

        def __init__(self) -> None:
            self.sent: list[dict] = []

        async def chat(self, messages: list, **params: object) -> Completion:
            self.sent.append(params)
            return Completion(f"reply {len(self.sent)}", "stop", Usage(1, 1))

    inner = Inner()
    chat = CachedChat(inner, CompletionCache(tmp_path))
    messages = [{"role": "user", "content": "Ask about the report."}]

    async def ask(**params: object) -> Completion:
        return await chat.chat(messages, **params)

    biased = asyncio.run(ask(word_bias={"effusion": -5.0}))
    assert inner.sent[0]["word_bias"] == {"effusion": -5.0} and chat.supports_word_bias
    assert asyncio.run(ask(word_bias={"effusion": -5.0})).text == biased.text and len(inner.sent) == 1
    assert asyncio.run(ask()).text != biased.text and "word_bias" not in inner.sent[1]
    asyncio.run(ask(word_bias={"effusion": -2.0}))
    assert len(inner.sent) == 3, "another bias is another entry"


@pytest.mark.llm
def test_refresh_ignores_and_overwrites_entries(tmp_path: Path, llm_server) -> None:
    from tests_support import FaultProxy

    from clinqa_synth.llm.endpoint import EndpointChat

    messages = [{"role": "user", "content": "Name one bone of the leg in one word."}]

    def ask(proxy_url: str, refresh: bool) -> Completion:
        endpoint = EndpointChat(proxy_url, api_key="local")
        cache = CompletionCache(tmp_path)

        async def go() -> Completion:
            try:
                return await CachedChat(endpoint, cache, refresh=refresh).chat(messages, max_tokens=64)
            finally:
                await endpoint.aclose()
                cache.close()

        return asyncio.run(go())

    with FaultProxy(llm_server.base_url) as proxy:
        assert not ask(proxy.url, refresh=False).cached
        assert ask(proxy.url, refresh=False).cached
        assert proxy.chat_requests == 1
        assert not ask(proxy.url, refresh=True).cached
        assert proxy.chat_requests == 2
        assert ask(proxy.url, refresh=False).cached
        assert proxy.chat_requests == 2


def test_assembly_with_wrong_hash_leaves_no_file(tmp_path: Path) -> None:
    real = PACKAGED_MODELS[SMALL_MODEL]
    from clinqa_synth.llm.models import packaged_parts

    try:
        packaged_parts(real)
    except ModelUnavailableError:
        require(False, "small packaged model not installed")
    wrong = PackagedModel(**{**real.__dict__, "sha256": "0" * 64, "name": "broken"})
    with pytest.raises(ModelUnavailableError, match="expected"):
        assemble(wrong, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_missing_model_package_names_the_extra(tmp_path: Path) -> None:
    ghost = PackagedModel("ghost", "x", "no-such-dist-part", 2, 1, "0" * 64, "local")
    with pytest.raises(ModelUnavailableError, match=r"clinqa-synth\[local\]"):
        assemble(ghost, tmp_path)


def test_unknown_model_spec_lists_choices() -> None:
    with pytest.raises(ModelUnavailableError, match="packaged model"):
        resolve_model("no-such-model")


def test_non_gguf_file_is_refused(tmp_path: Path) -> None:
    fake = tmp_path / "model.gguf"
    fake.write_bytes(b"not a gguf")
    with pytest.raises(ModelUnavailableError, match="not a GGUF"):
        resolve_model(str(fake))
