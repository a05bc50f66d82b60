"""The shop's own accounts, in SQLite: the part of an existing application
that loginguard never sees. It stores names and password hashes (scrypt,
through werkzeug.security) and checks a password; it knows nothing of
sessions, cookies or loginguard."""

import sqlite3

from werkzeug.security import check_password_hash, generate_password_hash

SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (
    username      TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL
)
"""

# Checked when the name is unknown, so that a wrong name costs as much time
# as a wrong password and the answer's delay does not tell names apart.
_DUMMY_HASH = generate_password_hash("not a password of anyone", method="scrypt")


class AccountError(ValueError):
    """A name or password that the shop refuses to store."""


def _connect(path):
    conn = sqlite3.connect(path)
    conn.execute(SCHEMA)
    return conn


def _check_username(username):
    # loginguard's user-name rules (PROTOCOL.md): 1-64 characters, none of
    # them control characters. Checked here so that every stored account can
    # get a loginguard session.
    if not 1 <= len(username) <= 64:
        raise AccountError("a user name has 1 to 64 characters")
    if any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in username):
        raise AccountError("a user name has no control characters")


def add(path, username, password):
    """Creates the account, or sets a new password when it exists."""
    _check_username(username)
    if not password:
        raise AccountError("the password must not be empty")
    with _connect(path) as conn:
        conn.execute(
            "INSERT INTO accounts (username, password_hash) VALUES (?, ?) "
            "ON CONFLICT (username) DO UPDATE SET password_hash = excluded.password_hash",
            (username, generate_password_hash(password, method="scrypt")),
        )


def check(path, username, password):
    """True when `username` exists and `password` is its password."""
    with _connect(path) as conn:
        row = conn.execute(
            "SELECT password_hash FROM accounts WHERE username = ?", (username,)
        ).fetchone()
    if row is None:
        check_password_hash(_DUMMY_HASH, password)
        return False
    return check_password_hash(row[0], password)
