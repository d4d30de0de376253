"""Several endpoints as one client: least-loaded dispatch and failing endpoints taken out of rotation."""

from __future__ import annotations

import asyncio

import pytest
from tests_support import FaultProxy

from clinqa_synth.llm.endpoint import EndpointChat
from clinqa_synth.llm.pool import EndpointPool
from clinqa_synth.llm.retry import RetryPolicy

pytestmark = pytest.mark.llm
FAST = RetryPolicy(max_retries=0, base_delay_s=0.01)


def ask_many(pool: EndpointPool, n: int) -> list[str]:
    async def go():
        try:
            return await asyncio.gather(
                *[
                    pool.chat(
                        [{"role": "user", "content": f"Name organ number {i} of the body in one word."}],
                        max_tokens=64,
                        seed=0,
                    )
                    for i in range(n)
                ]
            )
        finally:
            await pool.aclose()

    return [c.text for c in asyncio.run(go())]


def test_requests_are_spread_over_healthy_endpoints(llm_server) -> None:
    with FaultProxy(llm_server.base_url) as a, FaultProxy(llm_server.base_url) as b:
        pool = EndpointPool([EndpointChat(p.url, api_key="local", concurrency=1, retry=FAST) for p in (a, b)])
        assert len(ask_many(pool, 4)) == 4
        assert a.chat_requests + b.chat_requests == 4
        assert a.chat_requests >= 1 and b.chat_requests >= 1, "both healthy endpoints get work"


def test_a_failing_endpoint_is_rested_and_work_moves_on(llm_server) -> None:
    with FaultProxy(llm_server.base_url) as bad, FaultProxy(llm_server.base_url) as good:
        bad.default_fault = "503"
        pool = EndpointPool(
            [EndpointChat(p.url, api_key="local", concurrency=1, retry=FAST) for p in (bad, good)], cooldown_s=60
        )
        texts = ask_many(pool, 4)
        assert len(texts) == 4 and all(texts)
        assert bad.chat_requests == 1, "after one failure the endpoint rests"
        assert good.chat_requests == 4
