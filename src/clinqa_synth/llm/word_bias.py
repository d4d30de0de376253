"""Soft bias against words: the server-side lever for questions that do not reuse the document's words.

OpenAI's `logit_bias` takes token ids, and ids belong to the served model's tokenizer, so the words are
tokenized by the server that will sample (its tokenize route: llama-cpp-python `/extras/tokenize`, llama.cpp's
`llama-server` and vLLM `/tokenize`). Servers without such a route get no bias (the caller asks
`supports_word_bias` first) — never ids from another tokenizer, which would bias unrelated tokens.

Which tokens: the first token of each spelling a word takes in running text ("effusion", " effusion",
"Effusion", " Effusion", and as the document writes it: "CT", " CT"). Biasing every token of a multi-token word
would also push down the common pieces other words are made of ("ment", "ation"); its first token is what the
model must choose to start saying it. Tokens every text gets (a BOS) and a bare leading space (SentencePiece
tokenizers that split " word" into "▁" + "word", where "▁" also starts numbers) are never biased.
The bias is soft: a negative value makes a reused word less likely, not impossible, so a question can still
name the side or the organ it must name.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

# Part of the cache key of a biased call: bump it when `spellings` or `token_bias` change which tokens are biased,
# so completions made under the old mapping are not served for the new one.
MAPPING_VERSION = 2
# server kind (llm.server_probe) -> (route, request body for `text`; the served model name is passed for vLLM)
TOKENIZE_ROUTES: dict[str, tuple[str, Callable[[str, str | None], dict[str, Any]]]] = {
    "llama-cpp-python": ("/extras/tokenize", lambda text, model: {"input": text}),
    "llama-server": ("/tokenize", lambda text, model: {"content": text, "add_special": False}),
    "vllm": ("/tokenize", lambda text, model: {"model": model, "prompt": text, "add_special_tokens": False}),
}


def spellings(word: str) -> list[str]:
    """The forms a word takes in running text: as written, lower-case and capitalised, alone and after a space."""
    forms = [word, word.lower(), word.capitalize()]
    return list(dict.fromkeys(form for base in forms for form in (base, f" {base}")))


def _without_prefix(ids: list[int], prefix: list[int]) -> list[int]:
    return ids[len(prefix) :] if prefix and ids[: len(prefix)] == prefix else ids


async def token_bias(word_bias: dict[str, float], tokenize: Callable[[str], Awaitable[list[int]]]) -> dict[str, float]:
    """OpenAI `logit_bias` ({token id as a string: bias}) for `word_bias` ({word: bias}).

    Tokens the tokenizer adds to every text (a BOS) are found by tokenizing the empty string, a bare leading space
    by tokenizing " ": neither is biased. Where two words share a first token, the stronger bias is kept.
    """
    added = await tokenize("")
    space = _without_prefix(await tokenize(" "), added)
    bias: dict[str, float] = {}
    for word, value in word_bias.items():
        for form in spellings(word):
            ids = _without_prefix(await tokenize(form), added)
            if form.startswith(" "):  # a bare space token is never the word
                ids = _without_prefix(ids, space)
            if ids:
                key = str(ids[0])
                bias[key] = min(value, bias.get(key, 0.0))
    return bias
