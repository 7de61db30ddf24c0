"""A fake external self-exclusion register, speaking the protocol casino/exclusion_register.py
asks in, for the tests and the demo (README, "Player protection").

    python -m casino.demo_register [--port 8765] [--excluded LASTNAME ...] [--previously LASTNAME ...]

prints `listening http://127.0.0.1:<port>/check` and answers until Ctrl-C: a player whose
last name is listed under --excluded is "excluded", under --previously
"previously-excluded", anyone else "not-excluded", each with a reference of its own. Point a
jurisdiction at it (PUT /casino/admin/jurisdictions/{code} with that registerUrl).

In a test it runs in a thread of the test process, like the other test servers
(`FakeRegister().start()`, `.url`, `.stop()`), and can be told to fail: `mode` "down" (HTTP
500), "redirect" (307 to itself), "garbage" (200 with a body that is no answer), or "hang"
(no answer until it is stopped, or told otherwise). It records what it was asked.
"""
import argparse
import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODES = ("up", "down", "redirect", "garbage", "hang")


class FakeRegister:
    def __init__(self, excluded=(), previously=(), port=0):
        self.excluded = {name.lower() for name in excluded}
        self.previously = {name.lower() for name in previously}
        self.mode = "up"
        self.asked = []             # the identities it was asked about, in order
        self._released = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self):
        return f"http://127.0.0.1:{self._server.server_address[1]}/check"

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._released.set()            # a hanging answer ends now
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)

    def answer(self, identity):
        name = str(identity.get("lastName", "")).lower()
        status = ("excluded" if name in self.excluded else
                  "previously-excluded" if name in self.previously else "not-excluded")
        return {"status": status, "reference": "REG-" + uuid.uuid4().hex[:12]}

    def _handler(self):
        register = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    identity = json.loads(body)
                except ValueError:
                    identity = {}
                register.asked.append(identity)
                if register.mode == "hang":
                    register._released.wait(60)
                    return
                if register.mode == "down":
                    self._send(500, b'{"error": "maintenance"}')
                elif register.mode == "redirect":
                    self._send(307, b"", {"Location": register.url})
                elif register.mode == "garbage":
                    self._send(200, b'{"excluded": "maybe"}')
                else:
                    self._send(200, json.dumps(register.answer(identity)).encode())

            def _send(self, status, body, headers=None):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass        # quiet: the casino records every check itself

        return Handler


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m casino.demo_register", description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--excluded", nargs="*", default=["Excluded"], help="last names answered excluded")
    parser.add_argument("--previously", nargs="*", default=["Previously"],
                        help="last names answered previously-excluded")
    args = parser.parse_args(argv)
    register = FakeRegister(args.excluded, args.previously, args.port).start()
    print(f"listening {register.url}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        register.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
