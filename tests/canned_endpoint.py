"""A canned OpenAI-compatible endpoint on loopback for the LLM tests (standing in for vLLM, Kimi
or OpenRouter): `Canned(reply)` answers every POST with reply(body, headers) -> (status,
headers, bytes) and keeps what it saw; `completion(...)` is a chat completion body."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SECRET = "sk-test-5f3b9c0e7d1a4b2c8e6f0a9d3c7b1e5f"


class Canned:
    """A loopback endpoint answering every POST with reply(body, headers) -> (status, hdrs, bytes)."""

    def __init__(self, reply):
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.seen.append((body, {k.lower(): v for k, v in self.headers.items()}))
                status, headers, raw = reply(body, self.headers)
                self.send_response(status)
                for k, v in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self.seen: list = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def completion(message: dict, usage=(100, 20), fingerprint=None) -> bytes:
    return json.dumps({
        "id": "c", "object": "chat.completion", "created": 0, "model": "m",
        "system_fingerprint": fingerprint,
        "choices": [{"index": 0, "message": {"role": "assistant", **message},
                     "finish_reason": "stop"}],
        "usage": {"prompt_tokens": usage[0], "completion_tokens": usage[1],
                  "total_tokens": sum(usage)},
    }).encode()
