"""A local stand-in for Slack's Web API and a Teams incoming webhook.

It listens on 127.0.0.1 in a thread, records every request and answers as the real APIs
document (``{"ok": true, ...}`` for Slack; ``1`` for a Teams webhook). ``fail_next``
queues failures: ``500``, ``"timeout"`` (answers after the client gave up) or
``{"ok": false, "error": ...}``.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Recorded:
    path: str
    headers: dict
    body: bytes

    @property
    def method(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    @property
    def json(self):
        return json.loads(self.body)

    @property
    def form(self) -> dict:
        return dict(urllib.parse.parse_qsl(self.body.decode()))


@dataclass
class FakeChat:
    requests: list[Recorded] = field(default_factory=list)
    failures: list = field(default_factory=list)
    users: dict[str, str] = field(default_factory=dict)  # email -> Slack user id
    delay: float = 0.0
    url: str = ""

    def fail_next(self, *failures) -> None:
        self.failures.extend(failures)

    def calls(self, method: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method]

    def answer(self, request: Recorded):
        """(status, body) for a request."""
        if self.failures:
            failure = self.failures.pop(0)
            if failure == "timeout":
                return "timeout", None
            if isinstance(failure, int):
                return failure, {"ok": False, "error": "internal_error"}
            return 200, failure
        method = request.method
        if method == "users.lookupByEmail":
            email = request.form.get("email", "")
            if email in self.users:
                return 200, {
                    "ok": True,
                    "user": {"id": self.users[email], "profile": {"email": email}},
                }
            return 200, {"ok": False, "error": "users_not_found"}
        if method == "users.info":
            user = request.form.get("user", "")
            emails = {v: k for k, v in self.users.items()}
            if user in emails:
                return 200, {"ok": True, "user": {"id": user, "profile": {"email": emails[user]}}}
            return 200, {"ok": False, "error": "user_not_found"}
        if method == "chat.postMessage":
            return 200, {"ok": True, "channel": "D0001", "ts": f"{time.time():.6f}"}
        if method == "views.open":
            return 200, {"ok": True, "view": {"id": "V0001"}}
        if method == "teams-webhook":
            return 200, "1"
        if method == "response-url":
            return 200, "ok"
        return 404, {"ok": False, "error": "unknown_method"}


def start_fake(timeout_sleep: float) -> tuple[FakeChat, ThreadingHTTPServer]:
    fake = FakeChat()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length", 0))
            recorded = Recorded(self.path, dict(self.headers), self.rfile.read(length))
            fake.requests.append(recorded)
            status, body = fake.answer(recorded)
            if status == "timeout":
                time.sleep(timeout_sleep)
                status, body = 200, {"ok": True}
            data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    return fake, server


# --- Fixtures (imported by the Slack and Teams test modules) --------------------------------

import pytest  # noqa: E402


@pytest.fixture
def fake_chat(settings):
    fake, server = start_fake(timeout_sleep=1.0)
    settings.SLACK_API_BASE = fake.url + "/api"
    settings.CHAT_HTTP_TIMEOUT = 0.3
    settings.TEAMS_ALLOW_HTTP = True
    yield fake
    server.shutdown()
    server.server_close()


SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
BOT_TOKEN = "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy"
TEAM_ID = "T0ACME"


@pytest.fixture
def connected(acme, alice, fake_chat):
    """Acme with Slack and a Teams webhook connected (pointing at the fake)."""
    from checkins.integrations import integration_save

    return integration_save(
        org=acme,
        by=alice,
        slack_team_id=TEAM_ID,
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        teams_webhook_url=fake_chat.url + "/webhook/teams-webhook",
    )
