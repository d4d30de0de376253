"""Thinking models, chat-template switches, server detection and checkpoint identity in the cache key.

Reasoning blocks are added to the real llama.cpp server's answers by the wire-protocol proxy (the packaged models do
not think); other servers' self-descriptions (vLLM's /v1/models and /version, llama-server's /props, TGI's /info)
are answered by the proxy in the documented shapes while the real server answers every chat request.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import datasets
import pytest
from conftest import FIXTURES
from fault_proxy import REASONING
from tests_support import FaultProxy

from clinqa_synth.cli import main
from clinqa_synth.llm.endpoint import EndpointChat
from clinqa_synth.llm.protocol import TruncatedCompletionError
from clinqa_synth.llm.reasoning import split_reasoning
from clinqa_synth.llm.retry import RetryPolicy
from clinqa_synth.llm.server_probe import probe_server
from clinqa_synth.llm.session import LLMSettings, open_llm

PROMPT = [{"role": "user", "content": "Name the largest organ of the human body in one word."}]
SCHEMA = {"type": "object", "properties": {"organ": {"type": "string"}}, "required": ["organ"]}


# --- reasoning blocks: every shape current servers produce ------------------------------------------------------


@pytest.mark.parametrize(
    "content,field,answer",
    [
        ("<think>\nthe skin? yes\n</think>\n\nSkin", None, "Skin"),  # Qwen3 / QwQ inline
        ("the skin? yes\n</think>\n\nSkin", None, "Skin"),  # DeepSeek-R1: the template opened the block
        ("Skin", "the skin? yes", "Skin"),  # vLLM/SGLang reasoning parser: a separate field
        (
            "<|channel|>analysis<|message|>the skin? yes<|end|><|start|>assistant<|channel|>final<|message|>Skin",
            None,
            "Skin",
        ),  # gpt-oss harmony passed through raw
        ("<THINKING>the skin</THINKING>Skin", None, "Skin"),
    ],
)
def test_reasoning_is_separated_from_the_answer(content: str, field: str | None, answer: str) -> None:
    split = split_reasoning(content, field)
    assert split.answer == answer and "the skin" in split.reasoning and not split.unfinished


def test_text_without_reasoning_is_returned_exactly() -> None:
    text = '  {"answers": [{"number": 1, "answer": "No <b>acute</b> findings"}]}\n'
    assert split_reasoning(text).answer == text and split_reasoning(text).reasoning == ""


def test_output_that_ends_mid_thought_has_no_answer() -> None:
    split = split_reasoning("<think>\nLet me look at the findings. The report says")
    assert split.unfinished and split.answer == ""


# --- against the real server, through the proxy --------------------------------------------------------------------


def ask(url: str, **kwargs):  # noqa: ANN201
    schema = kwargs.pop("_schema", None)
    client = EndpointChat(url, api_key="local", retry=RetryPolicy(max_retries=2, base_delay_s=0.05), **kwargs)

    async def go():  # noqa: ANN202
        try:
            client.preflight()
            return await client.chat(PROMPT, max_tokens=64, seed=0, response_format=schema)
        finally:
            await client.aclose()

    return asyncio.run(go()), client


@pytest.mark.llm
@pytest.mark.parametrize("fault", ["think", "think-field"])
def test_a_thinking_models_reply_is_parsed_without_its_reasoning_and_its_cost_is_counted(llm_server, fault) -> None:
    with FaultProxy(llm_server.base_url, memoize=True) as proxy:
        clean, _ = ask(proxy.url)
        proxy.default_fault = fault
        thought, client = ask(proxy.url)
    assert thought.text == clean.text and "<think>" not in thought.text and REASONING not in thought.text
    assert thought.usage.completion_tokens == clean.usage.completion_tokens + 60
    assert thought.usage.reasoning_tokens == (60 if fault == "think-field" else thought.usage.reasoning_tokens) > 0
    assert client.accounting.reasoning_tokens == thought.usage.reasoning_tokens


@pytest.mark.llm
def test_still_thinking_at_max_tokens_fails_with_the_fix(llm_server) -> None:
    with FaultProxy(llm_server.base_url) as proxy:
        proxy.default_fault = "think-unfinished"
        with pytest.raises(TruncatedCompletionError) as error:
            ask(proxy.url)
    assert "still reasoning" in str(error.value) and "enable_thinking" in str(error.value)


@pytest.mark.llm
def test_generate_with_a_thinking_model_gives_the_same_dataset_and_sends_the_template_switch(
    llm_server, notes: Path, tmp_path: Path
) -> None:
    def generate(out: str, proxy_url: str, *extra: str) -> list[dict]:
        args = [
            "generate",
            "--input",
            str(notes),
            "--config",
            "direct",
            "--out",
            str(tmp_path / out),
            "--quiet",
            "--methods-dir",
            str(FIXTURES / "test_methods"),
            "--cache-dir",
            str(tmp_path / f"cache-{out}"),
            "--endpoint",
            proxy_url,
            "--limit",  # one report: the same dataset and the switch on every call show on one as on two
            "1",
            *extra,
        ]
        assert main(args) == 0
        return datasets.load_dataset(str(tmp_path / out), "direct", split="train").to_list()

    with FaultProxy(llm_server.base_url, memoize=True) as proxy:
        clean = generate("clean", proxy.url)
        proxy.default_fault = "think"
        thinking = generate("thinking", proxy.url)
        usage = json.loads((tmp_path / "thinking" / "direct" / "generation.json").read_text())["llm_usage"]
        proxy.default_fault = "ok"
        proxy.bodies.clear()
        generate("switched", proxy.url, "--chat-template-kwargs", '{"enable_thinking": false}', "--no-cache")
    assert thinking == clean and len(clean) > 0
    assert usage["reasoning_tokens"] > 0 and usage["calls"] > 0
    assert proxy.bodies and all(b.get("chat_template_kwargs") == {"enable_thinking": False} for b in proxy.bodies)


def one_cached_call(settings: LLMSettings) -> tuple[int, list[str]]:
    """One chat call through open_llm (cache included): the calls that reached the server, and the run's notices."""
    with open_llm(settings) as session:

        async def go() -> None:
            try:
                await session.chat.chat(PROMPT, max_tokens=32, seed=0)
            finally:
                await session.endpoint.aclose()

        asyncio.run(go())
        return session.accounting.calls, session.notices


@pytest.mark.llm
def test_the_template_switch_is_part_of_the_cache_key(llm_server, tmp_path: Path) -> None:
    def calls(kwargs: dict | None) -> int:
        return one_cached_call(
            LLMSettings(endpoint=proxy.url, cache_dir=tmp_path / "cache", chat_template_kwargs=kwargs)
        )[0]

    with FaultProxy(llm_server.base_url, memoize=True) as proxy:
        assert calls(None) == 1 and calls(None) == 0
        assert calls({"enable_thinking": False}) == 1 and calls({"enable_thinking": False}) == 0


# --- which server is it, and which checkpoint ---------------------------------------------------------------------

VLLM_MODELS = {"owned_by": "vllm", "root": "/models/llama-3.1-8b-ckpt-a", "max_model_len": 8192}
LLAMA_SERVER_PROPS = {
    "model_path": "/home/alice/models/qwen3-8b-q4_k_m.gguf",
    "build_info": "b6150-abc1234",
    "default_generation_settings": {"n_ctx": 8192},
}
TGI_INFO = {
    "model_id": "meta-llama/Llama-3.1-8B-Instruct",
    "model_sha": "0e9e39f",
    "router": "text-generation-router",
    "version": "3.3.4",
    "max_input_tokens": 8191,
}


def served(owner: str, **extra: object) -> dict:
    return {"object": "list", "data": [{"id": "m", "object": "model", "owned_by": owner, **extra}]}


def routes(**answers: object):  # noqa: ANN201
    return lambda path: answers.get(path.strip("/"))


def test_each_server_is_recognised_from_what_it_says_about_itself() -> None:
    vllm = probe_server(routes(version={"version": "0.11.0"}), served("vllm", root="/m/a", max_model_len=8192), "m")
    assert (vllm.kind, vllm.dialect, vllm.identity["root"], vllm.identity["vllm_version"]) == (
        "vllm",
        "vllm",
        "/m/a",
        "0.11.0",
    )
    llama = probe_server(routes(props=LLAMA_SERVER_PROPS), served("llamacpp"), "m")
    assert (llama.kind, llama.dialect, llama.identity["model_file"]) == (
        "llama-server",
        "llama-server",
        "qwen3-8b-q4_k_m.gguf",
    )
    assert "alice" not in json.dumps(llama.identity) + json.dumps(llama.public()), "no local path is published"
    tgi = probe_server(routes(info=TGI_INFO), served("meta-llama/Llama-3.1-8B-Instruct"), "m")
    assert (tgi.kind, tgi.dialect, tgi.identity["model_sha"]) == ("tgi", "tgi", "0e9e39f")
    assert probe_server(routes(), served("me"), "m").dialect == "llama-cpp-python"
    for owner in ("sglang", "library", "openai"):
        assert probe_server(routes(), served(owner), "m").dialect == "none"
    unknown = probe_server(routes(), {"data": [{"id": "m"}]}, "m")
    assert (unknown.kind, unknown.fingerprint) == ("unknown", "")


@pytest.mark.llm
def test_a_new_checkpoint_under_the_same_served_name_misses_the_cache(llm_server, tmp_path: Path) -> None:
    def run() -> tuple[int, list[str]]:
        return one_cached_call(LLMSettings(endpoint=proxy.url, cache_dir=tmp_path / "cache"))

    with FaultProxy(llm_server.base_url, memoize=True) as proxy:
        proxy.models_patch = dict(VLLM_MODELS)
        assert run()[0] == 1 and run()[0] == 0  # same checkpoint: served from the cache
        proxy.models_patch["root"] = "/models/llama-3.1-8b-ckpt-b"  # same name, other weights
        assert run()[0] == 1
        proxy.models_patch = {"owned_by": "someone"}  # a server that says nothing beyond the name
        calls, notices = run()
    assert calls == 1 and any("served name" in n and "--refresh" in n for n in notices)


@pytest.mark.llm
@pytest.mark.parametrize(
    "advertised,expected",
    [
        # what each server's documentation specifies for a JSON schema on /v1/chat/completions
        ({"owned_by": "vllm", "max_model_len": 8192}, lambda b: b["structured_outputs"] == {"json": SCHEMA}),
        ({"owned_by": "me"}, lambda b: b["response_format"] == {"type": "json_object", "schema": SCHEMA}),
        ({"owned_by": "sglang"}, lambda b: "response_format" not in b and "structured_outputs" not in b),
    ],
)
def test_structured_auto_sends_the_detected_servers_dialect(llm_server, advertised, expected) -> None:
    with FaultProxy(llm_server.base_url) as proxy:
        proxy.models_patch = advertised
        _, client = ask(proxy.url, structured="auto", _schema=SCHEMA)
    assert expected(proxy.bodies[-1]), proxy.bodies[-1]
    assert client.structured_notice


@pytest.mark.llm
@pytest.mark.parametrize(
    "routes_,dialect,expected",
    [
        ({"/props": LLAMA_SERVER_PROPS}, "llama-server", lambda b: b["json_schema"] == SCHEMA),
        ({"/info": TGI_INFO}, "tgi", lambda b: b["response_format"] == {"type": "json_object", "value": SCHEMA}),
    ],
)
def test_structured_auto_for_servers_found_by_their_own_routes(llm_server, routes_, dialect, expected) -> None:
    with FaultProxy(llm_server.base_url) as proxy:
        proxy.models_patch = {"owned_by": "llamacpp" if dialect == "llama-server" else "meta-llama"}
        proxy.get_routes = routes_
        _, client = ask(proxy.url, structured="auto", _schema=SCHEMA)
    assert client.structured == dialect and expected(proxy.bodies[-1]), proxy.bodies[-1]
