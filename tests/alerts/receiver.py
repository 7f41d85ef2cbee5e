"""A webhook receiver for the tests: ``python receiver.py PORT LOGFILE STATUSES``.

Answers each POST with the next status of STATUSES (comma-separated; the last one repeats)
and appends ``{"path", "headers", "body", "status"}`` to LOGFILE, one JSON object a line.
"""

from __future__ import annotations

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main() -> None:
    port, log_path, statuses = int(sys.argv[1]), sys.argv[2], sys.argv[3].split(",")
    answered = [0]

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            status = int(statuses[min(answered[0], len(statuses) - 1)])
            answered[0] += 1
            with open(log_path, "a") as log:
                record = {"path": self.path, "headers": dict(self.headers),
                          "body": body.decode(), "status": status}  # fmt: skip
                log.write(json.dumps(record) + "\n")
            self.send_response(status)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


if __name__ == "__main__":
    main()
