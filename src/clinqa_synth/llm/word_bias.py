"""Soft bias against words: the server-side lever for questions that do not reuse the document's words.

OpenAI's `logit_bias` takes token ids, and ids belong to the served model's tokenizer, so the words are
tokenized by the server that will sample (its tokenize route: llama-cpp-python `/extras/tokenize`, llama.cpp's
`llama-server` and vLLM `/tokenize`). Servers without such a route get no bias (the caller asks
`supports_word_bias` first) — never ids from another tokenizer, which would bias unrelated tokens.

Which tokens: the first token of each spelling a word starts with in running text ("effusion", " effusion",
"Effusion", " Effusion"). Biasing every token of a multi-token word would also push down the common pieces
other words are made of ("ment", "ation"); its first token is what the model must choose to start saying it.
The bias is soft: a negative value makes a reused word less likely, not impossible, so a question can still
name the side or the organ it must name.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

# server kind (llm.server_probe) -> (route, request body for `text`; the served model name is passed for vLLM)
TOKENIZE_ROUTES: dict[str, tuple[str, Callable[[str, str | None], dict[str, Any]]]] = {
    "llama-cpp-python": ("/extras/tokenize", lambda text, model: {"input": text}),
    "llama-server": ("/tokenize", lambda text, model: {"content": text, "add_special": False}),
    "vllm": ("/tokenize", lambda text, model: {"model": model, "prompt": text, "add_special_tokens": False}),
}


def spellings(word: str) -> list[str]:
    """The forms a word takes in running text: alone, after a space, and capitalised (a question's first word)."""
    forms = [word, f" {word}", word.capitalize(), f" {word.capitalize()}"]
    return list(dict.fromkeys(forms))


async def token_bias(word_bias: dict[str, float], tokenize: Callable[[str], Awaitable[list[int]]]) -> dict[str, float]:
    """OpenAI `logit_bias` ({token id as a string: bias}) for `word_bias` ({word: bias}).

    Tokens the tokenizer adds to every text (a BOS) are found by tokenizing the empty string and left out.
    Where two words share a first token, the stronger (more negative) bias is kept.
    """
    added = await tokenize("")
    bias: dict[str, float] = {}
    for word, value in word_bias.items():
        for form in spellings(word):
            ids = await tokenize(form)
            ids = ids[len(added) :] if ids[: len(added)] == added else ids
            if ids:
                key = str(ids[0])
                bias[key] = min(value, bias.get(key, 0.0))
    return bias
