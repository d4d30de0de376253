"""The question step's soft bias against the document's words: token ids from the serving model's own tokenizer."""

from __future__ import annotations

import asyncio

import pytest

from clinqa_synth.llm.endpoint import EndpointChat
from clinqa_synth.llm.word_bias import spellings, token_bias


def test_each_spelling_biases_its_first_token_without_the_tokens_added_to_every_text() -> None:
    vocabulary = {"": [1], "effusion": [1, 50, 51], " effusion": [1, 60], "Effusion": [1, 70, 71], " Effusion": [1, 80]}
    vocabulary |= {"left": [1, 90], " left": [1, 60], "Left": [1, 91], " Left": [1, 92]}
    asked: list[str] = []

    async def tokenize(text: str) -> list[int]:
        asked.append(text)
        return vocabulary[text]

    bias = asyncio.run(token_bias({"effusion": -5.0, "left": -2.0}, tokenize))
    # BOS (1) is what the empty string tokenizes to: never biased; " effusion" and " left" share token 60
    assert bias == {"50": -5.0, "60": -5.0, "70": -5.0, "80": -5.0, "90": -2.0, "91": -2.0, "92": -2.0}
    assert spellings("effusion") == ["effusion", " effusion", "Effusion", " Effusion"]
    assert asked[0] == ""


@pytest.mark.llm
def test_the_real_server_tokenizes_and_a_biased_word_is_not_written(llm_server) -> None:
    """llama-cpp-python's server: found by preflight, tokenizes on request, and applies the bias it is sent."""
    client = EndpointChat(llm_server.base_url, api_key="local", structured="llama-cpp-python")
    client.preflight()
    assert client.supports_word_bias, client.server_facts
    prompt = [{"role": "user", "content": "Repeat this sentence exactly: There is a small pleural effusion."}]

    async def run() -> tuple[list[int], str, str]:
        try:
            ids = await client.tokenize(" effusion")
            plain = await client.chat(prompt, max_tokens=24, seed=0)
            biased = await client.chat(prompt, max_tokens=24, seed=0, word_bias={"effusion": -100.0})
            return ids, plain.text, biased.text
        finally:
            await client.aclose()

    ids, plain, biased = asyncio.run(run())
    assert ids and all(isinstance(i, int) for i in ids)
    assert "effusion" in plain.lower(), plain
    assert " effusion" not in biased.lower() and biased != plain, biased
