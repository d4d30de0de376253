"""A loopback HTTP proxy in front of a real OpenAI-compatible server that injects faults on demand.

The real llama.cpp server cannot be told to answer 503 or reset a connection, so tests put this
proxy between the client and it. It speaks the real wire protocol: requests are forwarded
unchanged and real responses come back, except for the faults scripted in `faults` (consumed one
per chat request, in order). It also counts the requests that reach it.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx2 as httpx

FAULTS = (
    "ok",
    "503",
    "500",
    "502",
    "429",
    "429-retry-after",
    "401",
    "403",
    "404",
    "400-context",
    "reset",
    "slow",
    "truncated",
    "malformed-json",
    "empty-content",
    "wrong-format",
    "paraphrase",
    "think",
    "think-field",
    "think-unfinished",
)
# What a thinking model's reasoning looks like in front of its answer (Qwen3 / R1 distills), quoting a report
# on purpose: a reasoning block that reached the parsers would be taken for questions or quotations.
REASONING = (
    'Okay, the user wants questions about the report. The report says "No acute intracranial '
    'hemorrhage." so maybe: 1. Is there bleeding? Let me write the JSON {"answers": []} carefully.'
)


class FaultProxy:
    """`with FaultProxy(upstream) as proxy:` → `proxy.url`, `proxy.faults.append("503")`, `proxy.chat_requests`."""

    def __init__(self, upstream: str, *, slow_s: float = 3.0, memoize: bool = False) -> None:
        self.upstream = upstream.rstrip("/")
        self.faults: list[str] = []
        self.default_fault = "ok"
        self.get_status: int | None = None  # answer GET /v1/models with this status instead of forwarding
        # (substring of the request body, fault): a persistent fault for matching requests (e.g. one document)
        self.rules: list[tuple[str, str]] = []
        # memoize=True: each distinct request reaches the real server once; repeats (retries after an injected
        # fault, or a second run) get the server's real answer again, so the server's prompt sequence and KV
        # cache state stay exactly those of a clean run (llama.cpp is not bit-reproducible across cache states).
        self.memoize = memoize
        self.memo: dict[bytes, tuple[int, bytes]] = {}
        self.chat_requests = 0
        self.forwarded = 0
        self.slow_s = slow_s
        self.seen_headers: list[dict[str, str]] = []
        self.bodies: list[dict] = []  # every chat request body, parsed
        # GET /v1/models: fields merged into each served model's entry (e.g. {"owned_by": "vllm", "root": "..."})
        self.models_patch: dict[str, object] = {}
        # GET routes answered by the proxy itself, as another server kind would (e.g. "/version": {...})
        self.get_routes: dict[str, object] = {}
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:  # noqa: N802
                if proxy.get_status is not None:
                    return self._send(proxy.get_status, b'{"error": {"message": "injected"}}')
                if self.path in proxy.get_routes:
                    return self._send(200, json.dumps(proxy.get_routes[self.path]).encode())
                response = httpx.get(proxy.upstream + self.path, timeout=30)
                content = response.content
                if self.path.rstrip("/") == "/v1/models" and proxy.models_patch and response.status_code == 200:
                    models = json.loads(content)
                    for entry in models.get("data") or []:
                        entry.update(proxy.models_patch)
                    content = json.dumps(models).encode()
                self._send(response.status_code, content)

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                proxy.chat_requests += 1
                proxy.seen_headers.append(dict(self.headers))
                text = body.decode("utf-8", "replace")
                try:
                    proxy.bodies.append(json.loads(text))
                except ValueError:
                    pass
                ruled = next((f for needle, f in proxy.rules if needle in text), None)
                fault = ruled or (proxy.faults.pop(0) if proxy.faults else proxy.default_fault)
                error = {"error": {"message": f"injected {fault}", "type": "injected"}}
                if fault in ("503", "500", "502"):
                    return self._send(int(fault), json.dumps(error).encode())
                if fault == "429":
                    return self._send(429, json.dumps(error).encode())
                if fault == "429-retry-after":
                    return self._send(429, json.dumps(error).encode(), {"Retry-After": "1"})
                if fault in ("401", "403"):
                    return self._send(int(fault), json.dumps(error).encode())
                if fault == "404":
                    return self._send(404, b'{"error": {"message": "model not found"}}')
                if fault == "400-context":
                    msg = {"error": {"message": "Requested tokens (9000) exceed context window of 8192"}}
                    return self._send(400, json.dumps(msg).encode())
                if fault == "reset":
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                    self.connection.close()
                    self.close_connection = True
                    return None
                if fault == "slow":
                    time.sleep(proxy.slow_s)
                if proxy.memoize and body in proxy.memo:
                    status, payload = proxy.memo[body]
                else:
                    upstream = httpx.post(
                        proxy.upstream + self.path,
                        content=body,
                        headers={"Content-Type": "application/json"},
                        timeout=600,
                    )
                    proxy.forwarded += 1
                    status, payload = upstream.status_code, upstream.content
                    if proxy.memoize and status == 200:
                        proxy.memo[body] = (status, payload)
                if status == 200 and fault != "ok":
                    data = json.loads(payload)
                    if fault == "truncated":
                        data["choices"][0]["finish_reason"] = "length"
                    elif fault == "empty-content":
                        data["choices"][0]["message"]["content"] = ""
                    elif fault == "wrong-format":
                        data["choices"][0]["message"]["content"] = "I am sorry, I cannot help with that."
                    elif fault == "think":  # inline reasoning before the answer (Qwen3, R1 distills)
                        message = data["choices"][0]["message"]
                        message["content"] = f"<think>\n{REASONING}\n</think>\n\n{message['content']}"
                        data["usage"]["completion_tokens"] += 60
                    elif fault == "think-field":  # reasoning in its own field (vLLM/SGLang reasoning parsers)
                        data["choices"][0]["message"]["reasoning_content"] = REASONING
                        data["usage"]["completion_tokens"] += 60
                        data["usage"]["completion_tokens_details"] = {"reasoning_tokens": 60}
                    elif fault == "think-unfinished":  # still thinking when max_tokens ran out
                        data["choices"][0]["message"]["content"] = f"<think>\n{REASONING}"
                        data["choices"][0]["finish_reason"] = "length"
                    elif fault == "paraphrase":
                        message = data["choices"][0]["message"]
                        message["content"] = paraphrase_answers(message["content"])
                    payload = json.dumps(data).encode()
                    if fault == "malformed-json":
                        payload = payload[: len(payload) // 2]
                try:
                    self._send(status, payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def paraphrase_answers(content: str) -> str:
    """Rewrite a real answers completion the way small models often fail: every answer reworded, not quoted."""
    try:
        data = json.loads(content)
        answers = data["answers"]
    except (ValueError, KeyError, TypeError):
        return content
    for item in answers:
        answer = str(item.get("answer", ""))
        if answer and "unanswerable" not in answer.lower():
            item["answer"] = "in other words, " + " ".join(reversed(answer.split())) + " (reworded)"
    return json.dumps(data)
