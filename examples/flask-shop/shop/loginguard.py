"""The shop's side of loginguard's trusted-backend API (`/api/v1`), with the
standard library only: create a session after the shop's own password check,
and end one when the user signs out. It holds the API key and never logs it;
it knows nothing of Flask, forms or cookies."""

import json
import urllib.error
import urllib.parse
import urllib.request

TIMEOUT_SECONDS = 5


class LoginguardError(Exception):
    """loginguard answered with an error (`status`, stable `code`) or could
    not be reached (`status` 0, code `unreachable`)."""

    def __init__(self, status, code, message):
        super().__init__(f"loginguard: {status} {code}: {message}")
        self.status = status
        self.code = code


class Loginguard:
    def __init__(self, base_url, api_key):
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key

    def _call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.base_url + path,
            data=data,
            method=method,
            headers={
                "Authorization": f"Bearer {self._api_key}",
                "Accept": "application/json",
                **({"Content-Type": "application/json"} if data else {}),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
                text = response.read()
                return json.loads(text) if text else None
        except urllib.error.HTTPError as err:
            try:
                error = json.loads(err.read()).get("error", {})
            except ValueError:
                error = {}
            raise LoginguardError(
                err.code, error.get("code", "http_error"), error.get("message", "")
            ) from None
        except (urllib.error.URLError, TimeoutError, ConnectionError) as err:
            raise LoginguardError(0, "unreachable", str(err)) from None

    def create_session(self, subject, *, ip, user_agent, device=None):
        """`POST /api/v1/sessions`: the sign-in body (`token`, `session_id`,
        `expires_at`, `revoked_sessions`...). Without `device`, loginguard
        names the device from the User-Agent."""
        body = {"subject": subject, "ip": ip, "user_agent": user_agent}
        if device:
            body["device"] = device
        return self._call("POST", "/api/v1/sessions", body)

    def revoke_session(self, session_id):
        """`DELETE /api/v1/sessions/{id}`; a session that already ended is
        not an error (the user is signed out either way)."""
        try:
            self._call("DELETE", "/api/v1/sessions/" + urllib.parse.quote(session_id, safe=""))
        except LoginguardError as err:
            if err.status != 404:
                raise
