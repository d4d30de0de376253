"""The `clinqa-synth` command line: thin wrappers around the library, one sub-command per job.

Every error the library raises for a user mistake is an `LLMError`/`ClinqaError` whose message
names the problem and the fix; the CLI prints that one message (never a traceback) and exits 2.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any, Callable

from rich.console import Console

from clinqa_synth import __version__
from clinqa_synth.errors import ClinqaError
from clinqa_synth.llm.protocol import LLMError
from clinqa_synth.llm.structured import DIALECTS

console = Console(stderr=True)


def add_llm_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags shared by every command that talks to an LLM."""
    group = parser.add_argument_group("LLM")
    group.add_argument("--endpoint", help="base URL of an OpenAI-compatible server (TGI, vLLM, SGLang, llama.cpp, "
                       "Ollama). Without it the embedded llama.cpp server is started on 127.0.0.1.")
    group.add_argument("--model", help="embedded server: packaged model name (default, small), PATH.gguf or "
                       "ORG/REPO/FILE.gguf; with --endpoint: the served model name")
    group.add_argument("--api-key", help="token for the endpoint (default: $CLINQA_SYNTH_API_KEY, $OPENAI_API_KEY, "
                       "$HF_TOKEN, then the HF login). Never written anywhere.")
    group.add_argument("--concurrency", type=int, help="requests in flight (default: the server's parallel slots "
                       "for the embedded server, 4 for endpoints)")
    group.add_argument("--structured", default="auto", choices=("auto", *DIALECTS),
                       help="how to ask the server for JSON-schema output (auto: llama.cpp dialect for the "
                       "embedded server, none for endpoints)")
    group.add_argument("--allow-remote-endpoint", action="store_true",
                       help="allow an endpoint that is not loopback/private (documents are patient data)")
    group.add_argument("--cache-dir", type=Path, help="completion cache directory (default: $CLINQA_SYNTH_CACHE "
                       "or the user cache dir)")
    group.add_argument("--no-cache", action="store_true", help="neither read nor write the completion cache")
    group.add_argument("--refresh", action="store_true", help="ignore cached completions and overwrite them")
    group.add_argument("--runtime", default="auto", choices=("auto", "llama-cpp-python", "llama-server"),
                       help="embedded server runtime (auto: llama-server if on PATH)")
    group.add_argument("--n-ctx", type=int, default=8192, help="embedded server context size per slot")
    group.add_argument("--parallel", type=int, default=1, help="embedded llama-server parallel slots")
    group.add_argument("--timeout", type=float, default=600.0, help="seconds per request before it is retried")


def llm_settings(args: argparse.Namespace) -> Any:
    from clinqa_synth.llm.session import LLMSettings

    return LLMSettings(
        endpoint=args.endpoint,
        model=args.model,
        api_key=args.api_key,
        concurrency=args.concurrency,
        structured=args.structured,
        allow_remote_endpoint=args.allow_remote_endpoint,
        cache_dir=args.cache_dir,
        use_cache=not args.no_cache,
        refresh=args.refresh,
        runtime=args.runtime,
        n_ctx=args.n_ctx,
        parallel=args.parallel,
        timeout_s=args.timeout,
    )


def cmd_chat(args: argparse.Namespace) -> int:
    """One-shot smoke test: send a prompt, print the answer and what it cost."""
    from clinqa_synth.llm.session import open_llm

    with open_llm(llm_settings(args)) as session:
        async def run() -> Any:
            try:
                return await session.chat.chat(
                    [{"role": "user", "content": args.prompt}],
                    temperature=args.temperature,
                    max_tokens=args.max_tokens,
                    seed=args.seed,
                )
            finally:
                await session.endpoint.aclose()

        completion = asyncio.run(run())
        print(completion.text)
        console.print(f"[dim]{session.endpoint_kind} · {session.model_id} · "
                      f"{json.dumps(session.accounting.summary())}[/dim]")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the embedded server in the foreground for other tools to use."""
    from clinqa_synth.llm.models import resolve_model
    from clinqa_synth.llm.server import EmbeddedServer

    server = EmbeddedServer(resolve_model(args.model), runtime=args.runtime, n_ctx=args.n_ctx,
                            parallel=args.parallel, port=args.port)
    with server:
        console.print(f"[bold green]Serving[/bold green] {server.model_path.name} ({server.runtime}) at "
                      f"{server.base_url}/v1 — Ctrl-C to stop")
        try:
            assert server.process is not None
            server.process.wait()
        except KeyboardInterrupt:
            console.print("stopping…")
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    """List packaged models and whether they are installed/assembled; optionally assemble one."""
    from clinqa_synth.llm.models import DEFAULT_MODEL, PACKAGED_MODELS, ModelUnavailableError, assemble, packaged_parts

    for name, model in PACKAGED_MODELS.items():
        try:
            packaged_parts(model)
            state = "installed"
        except ModelUnavailableError:
            state = f"not installed (pip install 'clinqa-synth[{model.extra}]')"
        default = " [default]" if name == DEFAULT_MODEL else ""
        print(f"{name}{default}: {model.description} — {state}")
        if args.assemble and state == "installed":
            print(f"  -> {assemble(model)}")
    return 0


def cmd_cache(args: argparse.Namespace) -> int:
    from clinqa_synth.llm.cache import CACHE_FILE, CompletionCache, default_cache_dir

    directory = args.cache_dir or default_cache_dir()
    if args.action == "clear":
        for suffix in ("", "-wal", "-shm"):
            (directory / (CACHE_FILE + suffix)).unlink(missing_ok=True)
        print(f"cleared {directory / CACHE_FILE}")
        return 0
    cache = CompletionCache(directory)
    print(f"{cache.path}: {len(cache)} completions")
    cache.close()
    return 0


Command = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="clinqa-synth", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--version", action="version", version=f"clinqa-synth {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    chat = sub.add_parser("chat", help="one-shot smoke test of the LLM connection")
    chat.add_argument("prompt")
    chat.add_argument("--temperature", type=float, default=0.0)
    chat.add_argument("--max-tokens", type=int, default=256)
    chat.add_argument("--seed", type=int, default=0)
    add_llm_arguments(chat)
    chat.set_defaults(func=cmd_chat)

    serve = sub.add_parser("serve", help="run the embedded llama.cpp server in the foreground")
    serve.add_argument("--model")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--runtime", default="auto", choices=("auto", "llama-cpp-python", "llama-server"))
    serve.add_argument("--n-ctx", type=int, default=8192)
    serve.add_argument("--parallel", type=int, default=1)
    serve.set_defaults(func=cmd_serve)

    models = sub.add_parser("models", help="list the packaged GGUF models")
    models.add_argument("--assemble", action="store_true", help="assemble installed models into the cache now")
    models.set_defaults(func=cmd_models)

    cache = sub.add_parser("cache", help="inspect or clear the completion cache")
    cache.add_argument("action", choices=("info", "clear"))
    cache.add_argument("--cache-dir", type=Path)
    cache.set_defaults(func=cmd_cache)

    for register in _EXTRA_COMMANDS:
        register(sub)
    return parser


_EXTRA_COMMANDS: list[Callable[[Any], None]] = []


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ClinqaError, LLMError) as exc:
        from clinqa_synth.llm.safety import redact

        console.print(f"[bold red]error:[/bold red] {redact(str(exc), (getattr(args, 'api_key', None) or '',))}")
        return 2
    except KeyboardInterrupt:
        console.print("[yellow]interrupted — finished work is kept; re-run the same command to resume[/yellow]")
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
