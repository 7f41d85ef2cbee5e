"""An OpenAI-compatible chat-completions server on loopback, serving recorded completions by
model name (run as a process by the tests: ``python llm_server.py PORT``).

- ``good``: a valid proposal
- ``retry``: a malformed answer, then (asked again with the problem) a valid one
- ``garbage``: a malformed answer every time
- ``slow``: a valid proposal after 3 s (longer than the test's timeout)
- ``redirect``: a 307 to ``/followed`` (a client that follows it is counted there)
``GET /calls`` answers the completions served so far, by model.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

GOOD = {"action": "BUY", "confidence": 72, "reasoning": "higher lows; volume rising"}
GARBAGE = "I think you should probably buy, maybe. {not json"
CALLS: Counter[str] = Counter()


def answer(model: str, messages: list[dict[str, str]]) -> str:
    if model == "garbage":
        return GARBAGE
    if model == "retry" and not messages[-1]["content"].startswith("Invalid"):
        return GARBAGE
    if model == "slow":
        time.sleep(3)
    return "```json\n" + json.dumps(GOOD) + "\n```"


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def _send(self, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._send(dict(CALLS) if self.path == "/calls" else {"status": "ok"})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        model, messages = body["model"], body["messages"]
        CALLS["followed" if self.path == "/followed" else model] += 1
        if model == "redirect" and self.path != "/followed":
            self.send_response(307)
            self.send_header("Location", "/followed")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        content = answer(model, messages)
        prompt = sum(len(m["content"]) for m in messages) // 4
        self._send(
            {
                "id": f"cmpl-{sum(CALLS.values())}",
                "object": "chat.completion",
                "created": 1_700_000_000,
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "stop",
                        "message": {"role": "assistant", "content": content},
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt,
                    "completion_tokens": 20,
                    "total_tokens": prompt + 20,
                },
            }
        )


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
