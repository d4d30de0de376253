"""The question step's soft bias against the document's words: token ids from the serving model's own tokenizer."""

from __future__ import annotations

import asyncio

import pytest

from clinqa_synth.llm.endpoint import EndpointChat
from clinqa_synth.llm.protocol import FatalLLMError
from clinqa_synth.llm.server_probe import ServerFacts
from clinqa_synth.llm.word_bias import spellings, token_bias


def test_each_spelling_biases_its_first_token_without_the_tokens_added_to_every_text() -> None:
    vocabulary = {"": [1], " ": [1, 7], "effusion": [1, 50, 51], " effusion": [1, 60], "Effusion": [1, 70, 71]}
    vocabulary |= {" Effusion": [1, 7, 80], "CT": [1, 90], " CT": [1, 60], "ct": [1, 91], " ct": [1, 92]}
    vocabulary |= {"Ct": [1, 93], " Ct": [1, 7]}
    asked: list[str] = []

    async def tokenize(text: str) -> list[int]:
        asked.append(text)
        return vocabulary[text]

    bias = asyncio.run(token_bias({"effusion": -5.0, "CT": -2.0}, tokenize))
    # BOS (1) starts every text and a bare space (7) starts " Effusion" (a SentencePiece-style split): neither is
    # biased, nor is " Ct", which is nothing but the space; " effusion" and " CT" share token 60: the stronger bias
    assert bias == {"50": -5.0, "60": -5.0, "70": -5.0, "80": -5.0, "90": -2.0, "91": -2.0, "92": -2.0, "93": -2.0}
    assert spellings("CT") == ["CT", " CT", "ct", " ct", "Ct", " Ct"]
    assert spellings("effusion") == ["effusion", " effusion", "Effusion", " Effusion"]
    assert asked[:2] == ["", " "]


class _TokenizeServer:
    """A stand-in speaking llama-server's and vLLM's tokenize routes (their real request and reply shapes), or
    failing with a status, to check what the client sends and how a broken route is reported."""

    def __init__(self, status: int = 200) -> None:
        import http.server
        import json
        import threading

        self.bodies: list[tuple[str, dict]] = []
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                owner.bodies.append((self.path, body))
                text = body.get("content", body.get("prompt", ""))
                reply = json.dumps({"tokens": [ord(c) for c in text]}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


@pytest.mark.parametrize(
    "kind,route,body",
    [
        ("llama-server", "/tokenize", {"content": " CT", "add_special": False}),
        ("vllm", "/tokenize", {"model": "served-model", "prompt": " CT", "add_special_tokens": False}),
    ],
)
def test_each_server_kind_is_asked_on_its_own_route_and_each_word_once(kind: str, route: str, body: dict) -> None:
    server = _TokenizeServer()
    client = EndpointChat(server.url, model="served-model", api_key="local")
    client.server_facts = ServerFacts(kind)

    async def run() -> tuple[list[int], list[int]]:
        try:
            return await client.tokenize(" CT"), await client.tokenize(" CT")
        finally:
            await client.aclose()
            server.close()

    first, again = asyncio.run(run())
    assert first == again == [32, 67, 84] and client.supports_word_bias
    assert server.bodies == [(route, body)], "memoised: the second ask sent nothing"


def test_a_broken_tokenize_route_stops_the_run_with_the_fix_and_unknown_servers_are_refused() -> None:
    server = _TokenizeServer(status=404)
    client = EndpointChat(server.url, api_key="local")
    client.server_facts = ServerFacts("llama-server")

    async def tokenize() -> None:
        try:
            await client.tokenize("effusion")
        finally:
            await client.aclose()
            server.close()

    with pytest.raises(FatalLLMError, match=r"HTTP 404.*remove that key from the method"):
        asyncio.run(tokenize())
    tgi = EndpointChat("http://127.0.0.1:9", api_key="local")
    tgi.server_facts = ServerFacts("tgi")
    assert not tgi.supports_word_bias
    with pytest.raises(FatalLLMError, match="tokenizes on request"):
        asyncio.run(tgi.chat([{"role": "user", "content": "x"}], word_bias={"effusion": -5.0}))


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
