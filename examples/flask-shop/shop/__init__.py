"""The example shop: a Flask application with its own accounts and its own
sign-in form, bolted onto loginguard. After its own password check it asks
loginguard for a session (`POST /api/v1/sessions`) and hands the token to
the browser in the HttpOnly cookie loginguard reads (`--cookie`); from then
on nginx asks loginguard about every request (`auth_request`), so this app
never checks a session itself: it trusts the `X-Loginguard-User` header that
nginx sets, and must only ever be reachable through nginx.

Settings come from the environment: SHOP_DATABASE, LOGINGUARD_URL,
LOGINGUARD_API_KEY (scope `sessions`), LOGINGUARD_COOKIE and
SHOP_COOKIE_SECURE (0 only for plain-HTTP development)."""

import os
from datetime import datetime, timezone
from urllib.parse import unquote

from flask import Flask, abort, redirect, render_template, request
from werkzeug.middleware.proxy_fix import ProxyFix

from . import accounts
from .loginguard import Loginguard, LoginguardError

# What the sign-in form says for each answer of loginguard that is not a session.
REFUSALS = {
    "session_limit_reached": (409, "This account is already signed in on another device, and its policy keeps that one."),
    "bad_request": (400, "That device name cannot be used; choose another."),
}
UNAVAILABLE = (503, "Sign-in is unavailable right now. Try again in a moment.")


def _settings():
    key = os.environ.get("LOGINGUARD_API_KEY", "")
    if not key:
        raise RuntimeError(
            "LOGINGUARD_API_KEY is not set: make one with `loginguard api-key new shop --scopes sessions`"
        )
    return {
        "DATABASE": os.environ.get("SHOP_DATABASE", "shop.db"),
        "LOGINGUARD_URL": os.environ.get("LOGINGUARD_URL", "http://127.0.0.1:8080"),
        "LOGINGUARD_API_KEY": key,
        "LOGINGUARD_COOKIE": os.environ.get("LOGINGUARD_COOKIE", "lg"),
        "COOKIE_SECURE": os.environ.get("SHOP_COOKIE_SECURE", "1") != "0",
    }


def create_app():
    app = Flask(__name__)
    app.config.update(_settings())
    # nginx is the only client: believe its one X-Forwarded-For hop, so
    # remote_addr is the browser's address that loginguard records.
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)
    lg = Loginguard(app.config["LOGINGUARD_URL"], app.config["LOGINGUARD_API_KEY"])
    cookie = app.config["LOGINGUARD_COOKIE"]

    @app.after_request
    def no_store(response):
        # Pages name the user: never serve one from a cache after sign-out.
        response.headers["Cache-Control"] = "no-store"
        return response

    @app.get("/login")
    def login_form():
        return render_template("login.html")

    @app.post("/login")
    def login():
        username = request.form.get("username", "")
        password = request.form.get("password", "")
        device = request.form.get("device", "").strip()
        if not accounts.check(app.config["DATABASE"], username, password):
            return render_template("login.html", error="Wrong user name or password.", username=username), 401
        try:
            session = lg.create_session(
                username,
                ip=request.remote_addr,
                user_agent=request.headers.get("User-Agent", ""),
                device=device or None,
            )
        except LoginguardError as err:
            app.logger.warning("loginguard refused a session for %r: %s", username, err)
            status, text = REFUSALS.get(err.code, UNAVAILABLE)
            return render_template("login.html", error=text, username=username), status
        expires = datetime.fromisoformat(session["expires_at"])
        response = redirect("/", code=303)
        response.set_cookie(
            cookie,
            session["token"],
            max_age=max(0, int((expires - datetime.now(timezone.utc)).total_seconds())),
            path="/",
            secure=app.config["COOKIE_SECURE"],
            httponly=True,
            samesite="Lax",
        )
        return response

    def signed_in_user():
        # Set by nginx from loginguard's answer (it overwrites whatever a
        # client sent); percent-encoded outside A-Z a-z 0-9 - . _ ~.
        user = request.headers.get("X-Loginguard-User")
        if not user:
            abort(401)
        return unquote(user)

    @app.get("/")
    def home():
        return render_template("home.html", user=signed_in_user())

    @app.post("/logout")
    def logout():
        signed_in_user()
        session_id = request.headers.get("X-Loginguard-Session", "")
        try:
            lg.revoke_session(session_id)
        except LoginguardError as err:
            app.logger.warning("loginguard could not end session %s: %s", session_id, err)
            status, text = UNAVAILABLE
            return render_template("home.html", user=signed_in_user(), error=text), status
        response = redirect("/login", code=303)
        response.delete_cookie(cookie, path="/", secure=app.config["COOKIE_SECURE"], httponly=True, samesite="Lax")
        return response

    return app
