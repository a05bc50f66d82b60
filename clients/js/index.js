// loginguard-client: a dependency-free ES module for loginguard's WebSocket
// and HTTP API. It owns the socket life cycle (first-message auth, JSON ping,
// reconnect with exponential backoff and jitter, the close-code table) and
// turns server pushes into events. It must not keep session tokens anywhere
// but in memory (storing them is the app's choice), never put a token in a
// URL, and never reconnect after close 4001 (revoked) or 4003 (unauthorized).
// The things it stores (localStorage by default) are each account's device
// token, which signs nobody in and only keeps other people's failed guesses
// from locking this browser out of the account, and one random device id,
// which makes a second sign-in from this browser replace its first session
// instead of using up another place.
// The same file is served by the binary at /client/loginguard-client.js,
// beside the close-code table it imports (/client/close-codes.js).

import { CLOSE_CODES } from "./close-codes.js";

/**
 * WebSocket close codes, code -> {name, reason, reconnect, meaning}. The
 * table is generated from crates/loginguard/src/ws/close.rs (a Rust test
 * fails when the file is stale). `reconnect` says what this client does
 * after each one: false means the close is terminal for this token.
 */
export { CLOSE_CODES };

/** The same codes by name: `CloseCode.REVOKED === 4001`. */
export const CloseCode = Object.freeze(
  Object.fromEntries(Object.entries(CLOSE_CODES).map(([code, c]) => [c.name, Number(code)])),
);

/** Connection states, in the order a healthy connection goes through them. */
export const STATES = Object.freeze(["connecting", "online", "reconnecting", "offline"]);

const DEFAULTS = Object.freeze({
  pingInterval: 25_000,
  connectTimeout: 10_000,
  backoff: Object.freeze({ initial: 500, max: 30_000, factor: 2, jitter: 0.5 }),
});

/** Whether this client reconnects after a close with `code`. */
export function shouldReconnect(code) {
  const known = CLOSE_CODES[code];
  return known ? known.reconnect : true;
}

/**
 * The wait before reconnect attempt `attempt` (0 for the first retry):
 * `initial * factor^attempt`, capped at `max`, then shortened by up to
 * `jitter` of itself at random so that many clients dropped together do not
 * come back together.
 */
export function backoffDelay(attempt, backoff = DEFAULTS.backoff, random = Math.random) {
  const b = { ...DEFAULTS.backoff, ...backoff };
  const base = Math.min(b.max, b.initial * b.factor ** Math.max(0, attempt));
  const jitter = Math.min(1, Math.max(0, b.jitter));
  return Math.round(base * (1 - jitter * random()));
}

/** The WebSocket URL of the page's own origin (`ws[s]://host/ws`), in a browser. */
export function defaultSocketUrl(loc = globalThis.location) {
  if (!loc) throw new TypeError("loginguard-client: no `url` given and no `location` to derive it from");
  return `${loc.protocol === "https:" ? "wss:" : "ws:"}//${loc.host}/ws`;
}

/**
 * A live connection for one session token.
 *
 * Events (subscribe with `on`): `stateChange` {state, previous},
 * `authenticated` (the `auth_ok` message), `forceLogout` (the `force_logout`
 * message), `loginBlocked`, `sessionsChanged`, `pong`, `serverError`
 * (`{"type":"error"}` messages) and `disconnect` {code, reason, reconnect,
 * delay}.
 */
export class LoginGuardClient {
  /**
   * @param {object} options
   * @param {string} [options.token] the bearer token from sign-in
   * @param {boolean} [options.cookie] instead of a token: authenticate with the
   *   upgrade request's cookie (loginguard's `--cookie` mode; the page's
   *   origin must be in its `--allowed-origins`), for pages whose scripts
   *   never see the token because it lives in an HttpOnly cookie
   * @param {string} [options.url] e.g. "wss://example.org/ws"; defaults to this page's origin
   * @param {Function} [options.WebSocket] a WebSocket constructor (e.g. the `ws` package in Node)
   * @param {number} [options.pingInterval] ms between JSON pings once online (default 25 s)
   * @param {number} [options.connectTimeout] ms to get from connecting to `auth_ok` (default 10 s)
   * @param {object} [options.backoff] {initial, max, factor, jitter}
   * @param {Function} [options.random] a [0, 1) source, for tests
   */
  constructor(options = {}) {
    const byCookie = options.cookie === true;
    if (byCookie && options.token !== undefined) {
      throw new TypeError("loginguard-client: give `token` or `cookie: true`, not both");
    }
    if (!byCookie && (typeof options.token !== "string" || options.token === "")) {
      throw new TypeError("loginguard-client: `token` (or `cookie: true`) is required");
    }
    // The first message: the token itself, or a request to use the cookie
    // the browser sent with the upgrade (which this script cannot read).
    this._auth = JSON.stringify(byCookie ? { type: "auth", cookie: true } : { type: "auth", token: options.token });
    this._url = options.url ?? defaultSocketUrl();
    this._WebSocket = options.WebSocket ?? globalThis.WebSocket;
    if (typeof this._WebSocket !== "function") {
      throw new TypeError("loginguard-client: no WebSocket available; pass `WebSocket` (e.g. from the `ws` package)");
    }
    this._pingInterval = options.pingInterval ?? DEFAULTS.pingInterval;
    this._connectTimeout = options.connectTimeout ?? DEFAULTS.connectTimeout;
    this._backoff = { ...DEFAULTS.backoff, ...options.backoff };
    this._random = options.random ?? Math.random;
    this._listeners = new Map();
    this._state = "offline";
    this._ws = null;
    this._attempt = 0;
    this._timers = { ping: null, retry: null, connect: null };
    this._stopped = true;
    this._session = null;
    this._kicked = false;
    this._onOnline = () => {
      if (this._state === "reconnecting" && this._timers.retry !== null) this._retryNow();
    };
  }

  /** The current state: "connecting", "online", "reconnecting" or "offline". */
  get state() {
    return this._state;
  }

  /** The `auth_ok` message of the current connection, or null. */
  get session() {
    return this._session;
  }

  /** Subscribes to an event; returns a function that unsubscribes. */
  on(event, listener) {
    if (!this._listeners.has(event)) this._listeners.set(event, new Set());
    this._listeners.get(event).add(listener);
    return () => this.off(event, listener);
  }

  /** Removes a listener added with `on`. */
  off(event, listener) {
    this._listeners.get(event)?.delete(listener);
  }

  /** Opens the connection (and keeps it open) until `close()` or a terminal close. */
  connect() {
    if (!this._stopped) return this;
    this._stopped = false;
    this._kicked = false;
    this._attempt = 0;
    globalThis.addEventListener?.("online", this._onOnline);
    this._open("connecting");
    return this;
  }

  /** Closes the connection for good: state "offline", no reconnect. */
  close() {
    this._stop();
    this._setState("offline");
  }

  _emit(event, payload) {
    for (const listener of [...(this._listeners.get(event) ?? [])]) {
      try {
        listener(payload);
      } catch (err) {
        // A listener's bug must not break the connection; surface it asynchronously.
        setTimeout(() => {
          throw err;
        });
      }
    }
  }

  _setState(state) {
    if (state === this._state) return;
    const previous = this._state;
    this._state = state;
    this._emit("stateChange", { state, previous });
  }

  _clearTimers() {
    clearInterval(this._timers.ping);
    clearTimeout(this._timers.retry);
    clearTimeout(this._timers.connect);
    this._timers = { ping: null, retry: null, connect: null };
  }

  _stop() {
    this._stopped = true;
    this._clearTimers();
    globalThis.removeEventListener?.("online", this._onOnline);
    this._session = null;
    const ws = this._ws;
    this._ws = null;
    if (ws) {
      detach(ws);
      if (ws.readyState === 0 || ws.readyState === 1) ws.close(1000, "client_closed");
    }
  }

  _open(state) {
    this._setState(state);
    let ws;
    try {
      ws = new this._WebSocket(this._url);
    } catch (err) {
      this._dropped(1006, String(err?.message ?? err));
      return;
    }
    this._ws = ws;
    this._timers.connect = setTimeout(() => {
      if (this._ws !== ws) return;
      detach(ws);
      ws.close(4000, "connect_timeout");
      this._dropped(1006, "connect_timeout");
    }, this._connectTimeout);
    ws.onopen = () => {
      ws.send(this._auth);
    };
    ws.onmessage = (event) => this._message(ws, event.data);
    ws.onerror = () => {
      // Always followed by a close event, which decides what happens next.
    };
    ws.onclose = (event) => {
      if (this._ws !== ws) return;
      this._dropped(event.code, event.reason ?? "");
    };
  }

  _message(ws, data) {
    if (this._ws !== ws || typeof data !== "string") return;
    let msg;
    try {
      msg = JSON.parse(data);
    } catch {
      return;
    }
    switch (msg?.type) {
      case "auth_ok":
        clearTimeout(this._timers.connect);
        this._timers.connect = null;
        this._attempt = 0;
        this._session = msg;
        this._timers.ping = setInterval(() => {
          if (ws.readyState === 1) ws.send(JSON.stringify({ type: "ping" }));
        }, this._pingInterval);
        this._setState("online");
        this._emit("authenticated", msg);
        break;
      case "pong":
        this._emit("pong", msg);
        break;
      case "force_logout":
        // Terminal whatever happens next: the close 4001 that follows, or a lost connection.
        this._kicked = true;
        this._emit("forceLogout", msg);
        break;
      case "login_blocked":
        this._emit("loginBlocked", msg);
        break;
      case "sessions_changed":
        this._emit("sessionsChanged", msg);
        break;
      case "error":
        this._emit("serverError", msg);
        break;
      default:
        break;
    }
  }

  _dropped(code, reason) {
    const kicked = this._kicked;
    this._clearTimers();
    this._session = null;
    if (this._ws) detach(this._ws);
    this._ws = null;
    if (this._stopped) return;
    if (!shouldReconnect(code) || kicked) {
      this._stop();
      this._emit("disconnect", { code, reason, reconnect: false, delay: null });
      this._setState("offline");
      return;
    }
    const delay = backoffDelay(this._attempt, this._backoff, this._random);
    this._attempt += 1;
    this._setState("reconnecting");
    this._emit("disconnect", { code, reason, reconnect: true, delay });
    this._timers.retry = setTimeout(() => this._retryNow(), delay);
  }

  _retryNow() {
    clearTimeout(this._timers.retry);
    this._timers.retry = null;
    if (!this._stopped) this._open("reconnecting");
  }

}

function ignore() {}

// Keeps a no-op error handler: Node's `ws` throws on an error event nobody hears.
function detach(ws) {
  ws.onopen = ws.onmessage = ws.onclose = null;
  ws.onerror = ignore;
}

/** An HTTP error answer of loginguard: `{"error": {"code", "message", ...}}`. */
export class LoginGuardError extends Error {
  constructor(status, body) {
    const error = body?.error ?? {};
    super(error.message ?? `HTTP ${status}`);
    this.name = "LoginGuardError";
    /** HTTP status, or 0 when the server could not be reached. */
    this.status = status;
    /** The stable code (`invalid_credentials`, `session_limit_reached`, ...). */
    this.code = error.code ?? (status === 0 ? "network_error" : "http_error");
    /** The whole `error` object, with the optional fields (`active_sessions`, `reason`, `by`). */
    this.details = error;
  }
}

/** What a device token looks like; anything else kept under its key is dropped, not sent. */
const DEVICE_TOKEN = /^[A-Za-z0-9._-]{1,128}$/;

/** What the server accepts as a `device_id` (PROTOCOL.md Part 2). */
const DEVICE_ID = /^[A-Za-z0-9_-]{8,64}$/;

/** A fresh random device id: 16 random bytes in base64url (22 characters). */
export function newDeviceId() {
  const bytes = new Uint8Array(16);
  globalThis.crypto.getRandomValues(bytes);
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** This environment's localStorage, or null where there is none or it refuses access. */
function localDeviceStore() {
  try {
    return globalThis.localStorage ?? null;
  } catch {
    return null;
  }
}

/** A Storage-shaped store in memory, for environments without localStorage. */
function memoryDeviceStore() {
  const kept = new Map();
  return {
    getItem: (key) => kept.get(key) ?? null,
    setItem: (key, value) => void kept.set(key, String(value)),
    removeItem: (key) => void kept.delete(key),
  };
}

/**
 * The HTTP API, with `fetch`. Every method resolves to the JSON answer (or
 * undefined for 204) and rejects with a `LoginGuardError`.
 */
export class LoginGuardApi {
  /**
   * @param {object} [options]
   * @param {string} [options.baseUrl] e.g. "https://example.org"; defaults to this page's origin
   * @param {string|null} [options.token] the bearer token, once signed in
   * @param {Function} [options.fetch] a fetch implementation
   * @param {object} [options.deviceTokens] where each account's device token is kept
   *   ({getItem, setItem, removeItem}, like localStorage); defaults to localStorage, or memory
   */
  constructor(options = {}) {
    this.baseUrl = (options.baseUrl ?? "").replace(/\/+$/, "");
    this.token = options.token ?? null;
    this._fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    this._devices = options.deviceTokens ?? localDeviceStore() ?? memoryDeviceStore();
  }

  /** The key this browser's device id is kept under. */
  static get deviceIdKey() {
    return "loginguard.device_id";
  }

  /**
   * This browser's device id: the one kept, or a new one (then kept). Sent
   * with every sign-in, so signing in again from this browser (another tab,
   * a reload that lost the token) replaces its earlier session. A store that
   * refuses to keep it costs only that: each sign-in is then a new device.
   */
  deviceId() {
    const key = LoginGuardApi.deviceIdKey;
    try {
      const kept = this._devices.getItem(key);
      if (kept !== null && DEVICE_ID.test(kept)) return kept;
    } catch {
      // Unreadable: make a new one below.
    }
    const fresh = newDeviceId();
    try {
      this._devices.setItem(key, fresh);
    } catch {
      // Not kept: this sign-in still carries it.
    }
    return fresh;
  }

  /** The key a device token of `username` is kept under. */
  static deviceTokenKey(username) {
    return `loginguard.device.${username}`;
  }

  // A store that fails (quota, privacy mode) costs only the lock-out
  // exemption, never the sign-in: errors are swallowed in both helpers.
  _keptDeviceToken(username) {
    const key = LoginGuardApi.deviceTokenKey(username);
    try {
      const kept = this._devices.getItem(key);
      if (kept === null || DEVICE_TOKEN.test(kept)) return kept;
      this._devices.removeItem(key);
    } catch {
      // Nothing usable kept: nothing sent.
    }
    return null;
  }

  _keepDeviceToken(username, token) {
    try {
      this._devices.setItem(LoginGuardApi.deviceTokenKey(username), token);
    } catch {
      // Not kept: the next sign-in counts against the account, as without one.
    }
  }

  /** The matching WebSocket URL: `baseUrl` with ws(s) and `/ws`. */
  socketUrl() {
    if (this.baseUrl === "") return defaultSocketUrl();
    return `${this.baseUrl.replace(/^http/, "ws")}/ws`;
  }

  async _call(method, path, body) {
    const headers = { accept: "application/json" };
    if (body !== undefined) headers["content-type"] = "application/json";
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    let response;
    try {
      response = await this._fetch(`${this.baseUrl}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: "omit",
        cache: "no-store",
      });
    } catch (err) {
      throw new LoginGuardError(0, { error: { code: "network_error", message: `Cannot reach the server (${err?.message ?? err}).` } });
    }
    if (response.status === 204) return undefined;
    let json = null;
    try {
      json = await response.json();
    } catch {
      json = null;
    }
    if (!response.ok) throw new LoginGuardError(response.status, json);
    return json;
  }

  /**
   * POST /api/auth/login; on success also keeps the token for later calls.
   * Sends this browser's device id, the device class if given (else the
   * server derives it from the User-Agent) and the device token kept for
   * `username`, if any, and keeps the fresh one the answer brings.
   *
   * Resolves to the sign-in answer with `outcome: "signed_in"`, or, when
   * the server runs `on_limit = ask` and the account has no room, to
   * `{outcome: "choose", choices, ticketExpiresAt, evict(sessionId)}`:
   * `choices` are the sessions whose sign-out would make room (device,
   * device_class, ip, last_seen_at, ...), and `evict` signs the chosen one
   * out and this device in, resolving to the sign-in answer. Rejects with a
   * `LoginGuardError` otherwise (`session_limit_reached` under `deny_new`).
   */
  async signIn({ username, password, device, deviceClass }) {
    const body = { username, password, device_id: this.deviceId() };
    if (device) body.device = device;
    if (deviceClass) body.device_class = deviceClass;
    const kept = this._keptDeviceToken(username);
    if (kept) body.device_token = kept;
    let result;
    try {
      result = await this._call("POST", "/api/auth/login", body);
    } catch (err) {
      const ticket = err instanceof LoginGuardError ? err.details.eviction_ticket : undefined;
      if (err.code !== "session_limit_reached" || typeof ticket !== "string") throw err;
      return {
        outcome: "choose",
        choices: err.details.active_sessions ?? [],
        ticketExpiresAt: err.details.ticket_expires_at,
        evict: (sessionId) => this._evict(username, ticket, sessionId),
      };
    }
    return this._signedIn(username, result);
  }

  /** POST /api/auth/login/evict: the "choose" outcome's `evict`. */
  async _evict(username, ticket, sessionId) {
    const result = await this._call("POST", "/api/auth/login/evict", { ticket, session_id: sessionId });
    return this._signedIn(username, result);
  }

  _signedIn(username, result) {
    this.token = result.token;
    if (typeof result.device_token === "string") this._keepDeviceToken(username, result.device_token);
    return { ...result, outcome: "signed_in" };
  }

  /** POST /api/auth/logout (and forgets the token). */
  async signOut() {
    try {
      await this._call("POST", "/api/auth/logout");
    } finally {
      this.token = null;
    }
  }

  /** GET /api/auth/session: the caller's session. */
  session() {
    return this._call("GET", "/api/auth/session");
  }

  /** GET /api/auth/sessions: the account's live sessions (`current`, `connections`). */
  async sessions() {
    return (await this._call("GET", "/api/auth/sessions")).sessions;
  }

  /** DELETE /api/auth/sessions/{id}: ends one of the account's sessions. */
  revokeSession(sessionId) {
    return this._call("DELETE", `/api/auth/sessions/${encodeURIComponent(sessionId)}`);
  }

  /**
   * GET /api/demo: the demo accounts ({username, password, is_admin}) when
   * the server runs in demo mode (no users file); an empty list otherwise.
   */
  async demoAccounts() {
    return (await this._call("GET", "/api/demo")).accounts;
  }

  /** GET /api/admin/sessions: one page of every live session. */
  adminSessions({ cursor, limit } = {}) {
    const q = new URLSearchParams();
    if (cursor) q.set("cursor", cursor);
    if (limit) q.set("limit", String(limit));
    const qs = q.toString();
    return this._call("GET", `/api/admin/sessions${qs ? `?${qs}` : ""}`);
  }

  /** GET /api/admin/audit: one page of the audit trail, newest first. */
  adminAudit({ cursor, limit, username } = {}) {
    const q = new URLSearchParams();
    if (cursor) q.set("cursor", cursor);
    if (limit) q.set("limit", String(limit));
    if (username) q.set("username", username);
    const qs = q.toString();
    return this._call("GET", `/api/admin/audit${qs ? `?${qs}` : ""}`);
  }

  /** DELETE /api/admin/users/{username}/sessions: signs an account out everywhere. */
  adminSignOutUser(username) {
    return this._call("DELETE", `/api/admin/users/${encodeURIComponent(username)}/sessions`);
  }

  /**
   * GET /api/admin/users/{username}/policy: the account's runtime override
   * (`override`, null without one) and the policy its next sign-in gets
   * (`effective`).
   */
  adminPolicy(username) {
    return this._call("GET", `/api/admin/users/${encodeURIComponent(username)}/policy`);
  }

  /**
   * PUT /api/admin/users/{username}/policy: stores `policy` (any of
   * `max_sessions`, `on_limit`, `class_limits`) as the whole override.
   */
  adminSetPolicy(username, policy) {
    return this._call("PUT", `/api/admin/users/${encodeURIComponent(username)}/policy`, policy);
  }

  /** DELETE /api/admin/users/{username}/policy: removes the override. */
  adminRemovePolicy(username) {
    return this._call("DELETE", `/api/admin/users/${encodeURIComponent(username)}/policy`);
  }
}

const REASON_WORDS = Object.freeze({
  duplicate_login: "your account signed in on another device",
  logout: "you signed out",
  revoked_by_user: "you ended this session from another of your sessions",
  revoked_by_admin: "an administrator signed you out",
  expired: "your session expired",
  password_changed: "your password changed",
  account_removed: "your account was removed",
  revoked_by_app: "the application signed you out",
  replaced: "you signed in again in another tab of this browser",
});

/**
 * One plain sentence for a `force_logout` message (or the `error` of a 401
 * `session_revoked`), e.g. "You were signed out because user1 signed in on
 * Chrome on PC2 (203.0.113.7) at 10:00:00." Times are shown in the viewer's
 * time zone.
 *
 * @param {object} msg {reason, by, at, message}
 * @param {object} [options] {username, locale, timeZone}
 */
export function describeForceLogout(msg, options = {}) {
  const who = options.username || "your account";
  const by = msg?.by;
  const time = (iso) => formatTime(iso, options);
  switch (msg?.reason) {
    case "duplicate_login":
      if (by) {
        return `You were signed out because ${who} signed in on ${by.device || "another device"} (${by.ip}) at ${time(by.at)}.`;
      }
      break;
    case "revoked_by_user":
      if (by) {
        return `You were signed out because ${who} ended this session from ${by.device || "another device"} (${by.ip}) at ${time(by.at)}.`;
      }
      break;
    case "revoked_by_admin":
      return `An administrator signed ${who} out at ${time(msg.at)}.`;
    case "revoked_by_app":
      return `The application signed ${who} out at ${time(msg.at)}.`;
    case "replaced":
      return "You signed in again in another tab of this browser.";
    case "expired":
      return "You were signed out because your session expired.";
    case "password_changed":
      return `You were signed out because the password of ${who} changed. Sign in with the new password.`;
    case "account_removed":
      return `You were signed out because the account ${who} was removed.`;
    case "logout":
      return "You signed out of this session.";
    default:
      break;
  }
  if (msg?.message) return msg.message;
  const words = REASON_WORDS[msg?.reason];
  return words ? `You were signed out because ${words}.` : "You were signed out.";
}

function formatTime(iso, { locale, timeZone } = {}) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "an unknown time";
  return date.toLocaleTimeString(locale, { hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23", timeZone });
}

/**
 * A readable device name from a User-Agent, e.g. "Chrome on Linux" or
 * "Safari on iPhone"; "This browser" when nothing is recognised.
 */
export function guessDeviceName(userAgent = globalThis.navigator?.userAgent ?? "") {
  const ua = String(userAgent);
  const browsers = [
    [/Edg(e|A|iOS)?\//, "Edge"],
    [/OPR\/|Opera/, "Opera"],
    [/Firefox\/|FxiOS\//, "Firefox"],
    [/SamsungBrowser\//, "Samsung Internet"],
    [/Chrome\/|CriOS\/|Chromium\//, "Chrome"],
    [/Safari\//, "Safari"],
    [/^node|Node\.js/i, "Node.js"],
  ];
  const systems = [
    [/iPhone/, "iPhone"],
    [/iPad/, "iPad"],
    [/Android/, "Android"],
    [/CrOS/, "ChromeOS"],
    [/Windows/, "Windows"],
    [/Mac OS X|Macintosh/, "macOS"],
    [/Linux|X11/, "Linux"],
  ];
  const browser = browsers.find(([re]) => re.test(ua))?.[1];
  const system = systems.find(([re]) => re.test(ua))?.[1];
  if (browser && system) return `${browser} on ${system}`;
  return browser ?? system ?? "This browser";
}
