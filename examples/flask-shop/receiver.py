"""The shop's webhook receiver: loginguard POSTs `session.created`,
`session.revoked` and `session.denied` here, signed as Standard Webhooks.
Every delivery's signature is checked with the `standardwebhooks` library
against WEBHOOK_SECRET (`whsec_...`, the same secret as in loginguard's
`--webhooks` file); one that does not verify is answered 400 and dropped.
Verified events are recorded once per `webhook-id` (delivery is at least
once, so a retry may repeat one) and listed at GET /events; a real shop
would act on them instead (audit, e-mail "new sign-in", ...)."""

import os
import threading

from flask import Flask, jsonify, request
from standardwebhooks.webhooks import Webhook, WebhookVerificationError


def create_app():
    secret = os.environ.get("WEBHOOK_SECRET", "")
    if not secret:
        raise RuntimeError("WEBHOOK_SECRET is not set (whsec_..., as in loginguard's --webhooks file)")
    webhook = Webhook(secret)
    app = Flask(__name__)
    lock = threading.Lock()
    events = {}  # webhook-id -> the verified event, in arrival order
    rejected = []  # why each unverified delivery was refused

    @app.post("/webhooks/loginguard")
    def receive():
        body = request.get_data()
        try:
            event = webhook.verify(body, dict(request.headers))
        except (WebhookVerificationError, ValueError) as err:
            # ValueError: a signature header or body that is not even well
            # formed (no "v1," part, bad base64, not JSON).
            with lock:
                rejected.append(str(err))
            app.logger.warning("webhook refused: %s", err)
            return jsonify(error="signature does not verify"), 400
        with lock:
            events.setdefault(request.headers["webhook-id"], event)
        return "", 204

    @app.get("/events")
    def recorded():
        with lock:
            return jsonify(
                events=[{"webhook_id": k, **v} for k, v in events.items()],
                rejected=len(rejected),
            )

    return app
