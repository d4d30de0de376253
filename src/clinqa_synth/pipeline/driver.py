"""The one async driver: stream documents through the steps with bounded concurrency, in order.

Documents are read lazily and at most `concurrency` are in flight, so memory stays flat on 100k
documents; results come back in input order, so the dataset is the same whatever the timing.
A fatal endpoint error (bad credentials, unknown model) stops the run at once; anything that
concerns one document (context overflow, persistent format failures, retries exhausted) fails
only that document and is reported — unless `fail_fast` is set.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass

from clinqa_synth.documents.model import Document
from clinqa_synth.documents.shaping import split_long_documents
from clinqa_synth.errors import ClinqaError
from clinqa_synth.llm.protocol import ChatClient, ContextOverflowError, FatalLLMError, LLMError
from clinqa_synth.methods import MethodConfig
from clinqa_synth.pipeline.prompts import PromptSet
from clinqa_synth.pipeline.steps import DocumentResult, Failure, process_document


@dataclass(frozen=True)
class RunOptions:
    concurrency: int = 1
    max_section_chars: int = 12000
    fail_fast: bool = False
    prompts_dir: str | None = None
    corpus_size: int | None = None  # documents in the whole input (all shards): temp_anneal runs 0 → 1 across it


async def run_documents(
    documents: Iterable[Document],
    method: MethodConfig,
    chat: ChatClient,
    *,
    total: int | None = None,
    options: RunOptions = RunOptions(),
    model_id: str = "",
    prompt_sets: dict[str, PromptSet] | None = None,
) -> AsyncIterator[DocumentResult]:
    """Yield one :class:`DocumentResult` per (possibly split) document, in input order."""
    prompt_sets = prompt_sets if prompt_sets is not None else {}
    window: deque[asyncio.Task[DocumentResult]] = deque()
    limit = max(1, options.concurrency)

    async def one(document: Document, index: int) -> DocumentResult:
        prompts = prompt_sets.get(document.kind)
        if prompts is None:
            prompts = prompt_sets[document.kind] = PromptSet(document.kind, options.prompts_dir)
        # anneal over the corpus, not over this shard or over split chunks: a document's position is global
        position = document.position if document.position is not None else index
        temperature = method.question_temperature(position, options.corpus_size or total or position + 1)
        try:
            return await process_document(
                chat, document, method, prompts, question_temperature=temperature, model_id=model_id
            )
        except FatalLLMError as exc:
            if not isinstance(exc, ContextOverflowError):
                raise
            failure = Failure("context_overflow", str(exc))
        except LLMError as exc:
            failure = Failure(type(exc).__name__, str(exc))
        return DocumentResult(document.id, failure=failure)

    def checked(result: DocumentResult) -> DocumentResult:
        """--fail-fast, in one place: any failed document (LLM error or unusable output) stops the run."""
        if result.error and options.fail_fast:
            raise ClinqaError(f"document {result.document_id} failed ({result.error}); stopping because of --fail-fast")
        return result

    try:
        for index, document in enumerate(split_long_documents(documents, options.max_section_chars)):
            window.append(asyncio.ensure_future(one(document, index)))
            if len(window) >= limit:
                yield checked(await window.popleft())
        while window:
            yield checked(await window.popleft())
    finally:
        for task in window:
            task.cancel()
        if window:
            await asyncio.gather(*window, return_exceptions=True)
