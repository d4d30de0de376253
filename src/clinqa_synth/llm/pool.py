"""Several endpoints serving the same model, used as one :class:`ChatClient`.

Each request goes to the least-loaded endpoint with a free slot (fewest requests in flight per slot),
waiting for a slot when all are busy, so no request is queued behind an endpoint that may be failing. An endpoint
whose request fails transiently is rested for `cooldown_s` and the request moves to another;
when every endpoint is resting, the pool waits for the first to come back. Fatal errors (bad
credentials, unknown model) are not retried elsewhere: they would fail everywhere.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from clinqa_synth.llm.accounting import Accounting
from clinqa_synth.llm.endpoint import EndpointChat
from clinqa_synth.llm.protocol import Completion, Message, TransientLLMError


class EndpointPool:
    def __init__(
        self,
        endpoints: list[EndpointChat],
        *,
        cooldown_s: float = 30.0,
        max_rounds: int = 3,
        accounting: Accounting | None = None,
    ) -> None:
        if not endpoints:
            raise ValueError("an endpoint pool needs at least one endpoint")
        self.endpoints = endpoints
        self.cooldown_s = cooldown_s
        self.max_rounds = max_rounds
        self.accounting = accounting or endpoints[0].accounting
        self.in_flight = [0] * len(endpoints)
        self.resting_until = [0.0] * len(endpoints)
        self.served = [0] * len(endpoints)
        self._changed = asyncio.Condition()

    @property
    def model_id(self) -> str:
        return self.endpoints[0].model_id

    @property
    def cache_identity(self) -> str:
        return self.endpoints[0].cache_identity

    @property
    def chat_template_kwargs(self) -> dict[str, Any]:
        return self.endpoints[0].chat_template_kwargs

    @property
    def concurrency(self) -> int:
        return sum(e.concurrency for e in self.endpoints)

    @property
    def structured(self) -> str:
        return self.endpoints[0].structured

    @property
    def supports_word_bias(self) -> bool:
        """Every endpoint tokenizes on request (one model, so one tokenizer: any of them may serve a call)."""
        return all(e.supports_word_bias for e in self.endpoints)

    @property
    def display_url(self) -> str:
        return ", ".join(e.display_url for e in self.endpoints)

    def _pick(self) -> tuple[int | None, float]:
        """(endpoint index or None when every rested endpoint is busy, seconds to wait when all are resting)."""
        now = time.monotonic()
        ready = [i for i in range(len(self.endpoints)) if self.resting_until[i] <= now]
        if not ready:
            soonest = min(range(len(self.endpoints)), key=lambda i: self.resting_until[i])
            return None, self.resting_until[soonest] - now
        free = [i for i in ready if self.in_flight[i] < self.endpoints[i].concurrency]
        if not free:
            return None, 0.0
        return min(free, key=lambda i: (self.in_flight[i] / self.endpoints[i].concurrency, self.served[i])), 0.0

    async def _acquire(self) -> int:
        async with self._changed:
            while True:
                index, wait = self._pick()
                if index is not None:
                    self.in_flight[index] += 1
                    return index
                try:  # woken when a request finishes; or after `wait` when everything is resting
                    await asyncio.wait_for(self._changed.wait(), timeout=wait if wait > 0 else None)
                except asyncio.TimeoutError:
                    pass

    async def _release(self, index: int) -> None:
        async with self._changed:
            self.in_flight[index] -= 1
            self._changed.notify_all()

    async def chat(self, messages: list[Message], **params: Any) -> Completion:
        failures = 0
        last: TransientLLMError | None = None
        while failures < self.max_rounds * len(self.endpoints):
            index = await self._acquire()
            try:
                completion = await self.endpoints[index].chat(messages, **params)
                self.served[index] += 1
                return completion
            except TransientLLMError as exc:
                last = exc
                failures += 1
                self.resting_until[index] = time.monotonic() + self.cooldown_s
                self.accounting.record_retry()
            finally:
                await self._release(index)
        raise TransientLLMError(f"every endpoint kept failing ({self.display_url}): {last}")

    async def aclose(self) -> None:
        for endpoint in self.endpoints:
            await endpoint.aclose()
