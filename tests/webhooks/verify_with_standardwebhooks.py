"""Checks loginguard's webhook signatures with the `standardwebhooks` library.

Run by scripts/test: `python verify_with_standardwebhooks.py path/to/loginguard`.
Starts a receiver and the real binary (embedded store, demo accounts) with a
webhooks file holding two secrets (as during a rotation), signs in twice and
signs out, and requires every delivery to verify with either secret alone,
a tampered body to fail, and the three event types to arrive. Exits non-zero
with the reason on any failure.
"""

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, HTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

OLD = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
NEW = "whsec_" + "c2Vjb25kIHNlY3JldCBvZiAyNCBieXRlcyE="
received = []


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["content-length"]))
        received.append((dict(self.headers.items()), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def fail(why):
    print(f"verify_with_standardwebhooks: FAILED: {why}", file=sys.stderr)
    sys.exit(1)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(url, payload, token=None):
    req = urllib.request.Request(url, data=json.dumps(payload).encode(), method="POST")
    req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=10) as answer:
        text = answer.read()
        return json.loads(text) if text else None


def main():
    binary = sys.argv[1]
    server = HTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    hook_url = f"http://127.0.0.1:{server.server_port}/hooks"
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "webhooks.toml")
        with open(path, "w") as f:
            f.write(
                f'[[webhook]]\nurl = "{hook_url}"\nsecret = ["{OLD}", "{NEW}"]\n'
                'events = ["session.created", "session.revoked"]\n'
            )
        proc = subprocess.Popen(
            [binary, "serve", "--listen", f"127.0.0.1:{port}", "--webhooks", path],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.time() + 30
            while True:
                try:
                    urllib.request.urlopen(f"{base}/healthz", timeout=1)
                    break
                except OSError:
                    if time.time() > deadline or proc.poll() is not None:
                        fail("loginguard did not start")
                    time.sleep(0.1)
            login = {"username": "user1", "password": "password1"}
            post(f"{base}/api/auth/login", {**login, "device": "PC1"})
            second = post(f"{base}/api/auth/login", {**login, "device": "PC2"})
            post(f"{base}/api/auth/logout", {}, token=second["token"])
            # created, revoked (duplicate_login), created, revoked (logout)
            deadline = time.time() + 20
            while len(received) < 4 and time.time() < deadline:
                time.sleep(0.05)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    if len(received) < 4:
        fail(f"expected 4 webhooks, got {len(received)}")
    types = []
    for headers, body in received:
        for secret in (OLD, NEW):
            try:
                event = Webhook(secret).verify(body, headers)
            except WebhookVerificationError as e:
                fail(f"signature did not verify with one of the two secrets: {e}: {headers}")
        tampered = body.replace(b"user1", b"user2")
        try:
            Webhook(OLD).verify(tampered, headers)
            fail("a tampered body verified")
        except WebhookVerificationError:
            pass
        types.append((event["type"], event["data"]["reason"]))
    expected = {("session.created", None), ("session.revoked", "duplicate_login"), ("session.revoked", "logout")}
    if set(types) != expected:
        fail(f"unexpected events {types}")
    print(f"verify_with_standardwebhooks: {len(received)} webhooks verified with standardwebhooks (both secrets)")


if __name__ == "__main__":
    main()
