// Unit tests of LoginGuardClient and LoginGuardApi against a REAL loginguard
// (the cargo-built binary on a free port; Redis where a restart must keep
// sessions). No fake server: every message here came from loginguard.
// Waits poll a condition with a deadline; the only fixed waits check that
// something does NOT happen (no reconnect after a terminal close).

import assert from "node:assert/strict";
import { afterEach, describe, test } from "node:test";
import { WebSocket } from "ws";

import {
  LoginGuardApi,
  LoginGuardClient,
  LoginGuardError,
  backoffDelay,
  describeForceLogout,
  guessDeviceName,
} from "../index.js";
import { eventually, login, serverForSuite } from "./server.js";

/** A WebSocket constructor that remembers every URL it was asked to open. */
function recordingWebSocket() {
  const urls = [];
  class Recording extends WebSocket {
    constructor(url, ...rest) {
      super(url, ...rest);
      urls.push(String(url));
    }
  }
  return { Recording, urls };
}

/** A client with a log of everything it emitted. */
function track(client) {
  const log = { states: [], events: [] };
  client.on("stateChange", ({ state }) => log.states.push(state));
  for (const name of ["authenticated", "forceLogout", "loginBlocked", "sessionsChanged", "pong", "disconnect", "serverError"]) {
    client.on(name, (payload) => log.events.push({ name, payload }));
  }
  log.named = (name) => log.events.filter((e) => e.name === name);
  return log;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Every client a test opened; closed when the test ends, pass or fail. */
const clients = [];
afterEach(() => {
  for (const c of clients.splice(0)) c.close();
});

/** A tracked client for `token` on `server` whose WebSocket records the URLs it opens. */
function open(server, token, extra = {}) {
  const { Recording, urls } = recordingWebSocket();
  const client = new LoginGuardClient({ url: server.wsUrl, token, WebSocket: Recording, ...extra });
  clients.push(client);
  return { client, log: track(client), urls };
}

/** A backoff short enough that a reconnect, if any, happens within `noReconnect`'s wait. */
const QUICK_RETRY = { backoff: { initial: 10, max: 50 } };

/** Waits far beyond QUICK_RETRY's backoff, then checks only one socket was ever opened. */
async function noReconnect(urls, when) {
  await sleep(300);
  assert.equal(urls.length, 1, `no reconnect ${when}`);
}

/** `open` with QUICK_RETRY, connected, once the server has closed it and it went offline without ever being online. */
async function closedOnConnect(server, token) {
  const opened = open(server, token, QUICK_RETRY);
  opened.client.connect();
  await eventually(() => opened.client.state === "offline" && opened.log.named("disconnect").length, { what: "closed on connect" });
  assert.ok(!opened.log.states.includes("online"), `states: ${opened.log.states}`);
  return opened;
}

/** `open`, connected, once it is online. */
async function online(server, token, extra = {}) {
  const opened = open(server, token, extra);
  opened.client.connect();
  await eventually(() => opened.client.state === "online", { what: "online" });
  return opened;
}

describe("against a server with the default policy (1 session, kick_oldest)", () => {
  const server = serverForSuite();

  test("authenticates with the first message and goes connecting -> online", async () => {
    const { body } = await login(server.url, "user1", "password1", "Node PC1");
    const { client, log, urls } = open(server, body.token);
    client.connect();
    assert.equal(client.state, "connecting");
    await eventually(() => client.state === "online", { what: "online" });
    assert.deepEqual(log.states, ["connecting", "online"]);
    const ok = log.named("authenticated")[0].payload;
    assert.equal(ok.session_id, body.session_id);
    assert.equal(ok.username, "user1");
    assert.equal(client.session.session_id, body.session_id);
    assert.equal(urls.length, 1);
    assert.ok(!urls[0].includes(body.token), "the token never travels in the URL");
    client.close();
    assert.equal(client.state, "offline");
  });

  test("sends JSON pings at the configured interval and hears pongs", async () => {
    const { body } = await login(server.url, "user2", "password2", "Node pinger");
    const { log } = await online(server, body.token, { pingInterval: 100 });
    await eventually(() => log.named("pong").length >= 3, { what: "three pongs", timeoutMs: 3000 });
    assert.match(log.named("pong")[0].payload.server_time, /^\d{4}-\d\d-\d\dT.*Z$/);
  });

  test("a second sign-in kicks: forceLogout names the new device, then offline, no reconnect", async () => {
    const first = await login(server.url, "user1", "password1", "Node PC1");
    const { client, log, urls } = await online(server, first.body.token, QUICK_RETRY);
    const t0 = Date.now();
    const second = await login(server.url, "user1", "password1", "Chrome on PC2");
    assert.equal(second.status, 200);
    assert.deepEqual(second.body.revoked_sessions.map((s) => s.session_id), [first.body.session_id]);
    await eventually(() => client.state === "offline", { what: "offline after kick", timeoutMs: 2000 });
    assert.ok(Date.now() - t0 < 1000, "the kick arrives within a second");
    const kick = log.named("forceLogout")[0].payload;
    assert.equal(kick.reason, "duplicate_login");
    assert.equal(kick.session_id, first.body.session_id);
    assert.equal(kick.by.device, "Chrome on PC2");
    assert.equal(kick.by.ip, "127.0.0.1");
    const bye = log.named("disconnect")[0].payload;
    assert.equal(bye.code, 4001);
    assert.equal(bye.reconnect, false);
    assert.deepEqual(log.states, ["connecting", "online", "offline"]);
    await noReconnect(urls, "after 4001");
    assert.equal(client.state, "offline");
  });

  test("a token revoked while the device was away is kicked on connect, with who replaced it", async () => {
    const away = await login(server.url, "user2", "password2", "Laptop");
    await login(server.url, "user2", "password2", "Phone");
    const { log, urls } = await closedOnConnect(server, away.body.token);
    const kick = log.named("forceLogout")[0].payload;
    assert.equal(kick.reason, "duplicate_login");
    assert.equal(kick.by.device, "Phone");
    assert.equal(log.named("disconnect")[0].payload.code, 4001);
    await noReconnect(urls, "after 4001 on connect");
  });

  test("an unknown token is refused with 4003 and never retried", async () => {
    const { log, urls } = await closedOnConnect(server, "not-a-real-token");
    assert.equal(log.named("disconnect")[0].payload.code, 4003);
    assert.equal(log.named("disconnect")[0].payload.reconnect, false);
    assert.equal(log.named("forceLogout").length, 0);
    await noReconnect(urls, "after 4003");
  });

  test("admin force sign-out reaches the socket with reason revoked_by_admin", async () => {
    const user = await login(server.url, "user2", "password2", "Desk");
    const { client, log } = await online(server, user.body.token);
    const admin = new LoginGuardApi({ baseUrl: server.url });
    const signedIn = await admin.signIn({ username: "admin", password: "admin123", device: "Admin console" });
    assert.equal(signedIn.user.is_admin, true);
    const page = await admin.adminSessions({ limit: 1 });
    assert.equal(page.sessions.length, 1);
    assert.ok(page.count >= 2);
    assert.equal(typeof page.next_cursor, "string");
    const page2 = await admin.adminSessions({ cursor: page.next_cursor, limit: 1 });
    assert.notEqual(page2.sessions[0].session_id, page.sessions[0].session_id);
    assert.deepEqual(await admin.adminSignOutUser("user2"), { revoked: 1 });
    await eventually(() => client.state === "offline", { what: "kicked by admin" });
    const kick = log.named("forceLogout")[0].payload;
    assert.equal(kick.reason, "revoked_by_admin");
    assert.equal(kick.by, null);
    assert.match(describeForceLogout(kick, { username: "user2" }), /^An administrator signed user2 out at \d\d:\d\d:\d\d\.$/);
    const trail = await admin.adminAudit({ username: "user2", limit: 1 });
    assert.equal(trail.entries.length, 1);
    assert.equal(trail.entries[0].type, "revoked");
    assert.equal(trail.entries[0].reason, "revoked_by_admin");
    assert.equal(typeof trail.next_cursor, "string");
    const older = await admin.adminAudit({ username: "user2", cursor: trail.next_cursor, limit: 1 });
    assert.equal(older.entries[0].username, "user2");
    assert.notEqual(older.entries[0].id, trail.entries[0].id);
  });

  test("LoginGuardApi.demoAccounts lists the demo accounts, with their passwords, in demo mode", async () => {
    const accounts = await new LoginGuardApi({ baseUrl: server.url }).demoAccounts();
    assert.deepEqual(
      accounts.map((a) => `${a.username}/${a.password}${a.is_admin ? " (admin)" : ""}`),
      ["user1/password1", "user2/password2", "admin/admin123 (admin)"],
    );
  });

  test("LoginGuardApi: errors carry the stable code; a revoked token says why", async () => {
    const api = new LoginGuardApi({ baseUrl: server.url });
    await assert.rejects(api.signIn({ username: "user1", password: "wrong" }), (err) => {
      assert.ok(err instanceof LoginGuardError);
      assert.equal(err.status, 401);
      assert.equal(err.code, "invalid_credentials");
      return true;
    });
    const me = await api.signIn({ username: "user1", password: "password1", device: "API test" });
    const sessions = await api.sessions();
    assert.equal(sessions.length, 1);
    assert.equal(sessions[0].session_id, me.session_id);
    assert.equal(sessions[0].current, true);
    await login(server.url, "user1", "password1", "Usurper");
    await assert.rejects(api.sessions(), (err) => {
      assert.equal(err.status, 401);
      assert.equal(err.code, "session_revoked");
      assert.equal(err.details.reason, "duplicate_login");
      assert.equal(err.details.by.device, "Usurper");
      return true;
    });
    const unreachable = new LoginGuardApi({ baseUrl: "http://127.0.0.1:9" });
    await assert.rejects(unreachable.session(), (err) => err.status === 0 && err.code === "network_error");
  });
});

describe("against a server with a users file", () => {
  const server = serverForSuite({ users: [{ username: "alice", password: "correct horse" }] });

  test("demoAccounts is empty and the demo accounts do not exist", async () => {
    const api = new LoginGuardApi({ baseUrl: server.url });
    assert.deepEqual(await api.demoAccounts(), []);
    await assert.rejects(api.signIn({ username: "user1", password: "password1" }), (err) => err.code === "invalid_credentials");
    assert.equal((await api.signIn({ username: "alice", password: "correct horse" })).user.username, "alice");
  });
});

describe("against a server with two sessions per account", () => {
  const server = serverForSuite({ args: ["--max-sessions", "2"] });

  test("sessionsChanged reaches the other sessions when one is added or ended", async () => {
    const a = await login(server.url, "user1", "password1", "Tablet");
    const { client, log } = await online(server, a.body.token);
    const b = await login(server.url, "user1", "password1", "Phone");
    assert.deepEqual(b.body.revoked_sessions, []);
    await eventually(() => log.named("sessionsChanged").length === 1, { what: "sessions_changed on add" });
    const api = new LoginGuardApi({ baseUrl: server.url, token: a.body.token });
    const listed = await api.sessions();
    assert.equal(listed.length, 2);
    assert.equal(listed.find((s) => s.current).connections, 1);
    await api.revokeSession(b.body.session_id);
    await eventually(() => log.named("sessionsChanged").length === 2, { what: "sessions_changed on end" });
    assert.equal(client.state, "online");
    assert.equal(log.named("forceLogout").length, 0);
  });
});

describe("against a deny_new server", () => {
  const server = serverForSuite({ args: ["--on-limit", "deny_new"] });

  test("a refused sign-in with the right password raises loginBlocked; the 409 lists the live session", async () => {
    const a = await login(server.url, "user1", "password1", "Home PC");
    const { client, log } = await online(server, a.body.token);
    const api = new LoginGuardApi({ baseUrl: server.url });
    await assert.rejects(api.signIn({ username: "user1", password: "password1", device: "Intruder PC" }), (err) => {
      assert.equal(err.status, 409);
      assert.equal(err.code, "session_limit_reached");
      assert.equal(err.details.active_sessions.length, 1);
      assert.equal(err.details.active_sessions[0].device, "Home PC");
      assert.equal(err.details.active_sessions[0].token, undefined);
      return true;
    });
    await eventually(() => log.named("loginBlocked").length === 1, { what: "login_blocked" });
    assert.equal(log.named("loginBlocked")[0].payload.by.device, "Intruder PC");
    assert.equal(client.state, "online");
  });
});

/** A Storage-shaped store in a Map, to see what the client keeps. */
function mapStorage() {
  const kept = new Map();
  return { kept, getItem: (k) => kept.get(k) ?? null, setItem: (k, v) => void kept.set(k, v), removeItem: (k) => void kept.delete(k) };
}

/** A real fetch that also remembers every JSON body it sent. */
function recordingFetch() {
  const sent = [];
  const recording = (url, init) => {
    sent.push(JSON.parse(init.body));
    return fetch(url, init);
  };
  return { recording, sent };
}

describe("against a server that locks an account after 3 failed sign-ins", () => {
  const server = serverForSuite({ args: ["--rate-limit-account", "3"] });

  test("LoginGuardApi keeps each account's device token and sends it back, so guesses from elsewhere do not lock it out", async () => {
    const storage = mapStorage();
    const { recording, sent } = recordingFetch();
    const api = new LoginGuardApi({ baseUrl: server.url, deviceTokens: storage, fetch: recording });
    const first = await api.signIn({ username: "user1", password: "password1" });
    assert.equal(sent[0].device_token, undefined, "nothing kept yet");
    assert.equal(storage.kept.get(LoginGuardApi.deviceTokenKey("user1")), first.device_token);

    const attacker = new LoginGuardApi({ baseUrl: server.url, deviceTokens: mapStorage() });
    for (let i = 0; i < 3; i++) {
      await assert.rejects(attacker.signIn({ username: "user1", password: `guess${i}` }), (err) => err.code === "invalid_credentials");
    }
    await assert.rejects(attacker.signIn({ username: "user1", password: "password1" }), (err) => err.status === 429 && err.code === "rate_limited");

    const again = await api.signIn({ username: "user1", password: "password1" });
    assert.equal(sent.at(-1).device_token, first.device_token);
    assert.notEqual(again.device_token, first.device_token);
    assert.equal(storage.kept.get(LoginGuardApi.deviceTokenKey("user1")), again.device_token, "the fresh one is kept");
  });

  test("a kept value that is no device token is dropped, not sent", async () => {
    const storage = mapStorage();
    storage.setItem(LoginGuardApi.deviceTokenKey("user2"), "not a token!");
    const { recording, sent } = recordingFetch();
    const api = new LoginGuardApi({ baseUrl: server.url, deviceTokens: storage, fetch: recording });
    const me = await api.signIn({ username: "user2", password: "password2" });
    assert.equal(sent[0].device_token, undefined);
    assert.equal(storage.kept.get(LoginGuardApi.deviceTokenKey("user2")), me.device_token);
  });
});

describe("device ids, against a deny_new server", () => {
  const server = serverForSuite({ args: ["--on-limit", "deny_new"] });

  test("LoginGuardApi keeps one device id and sends it, so signing in again from this browser replaces its session", async () => {
    const storage = mapStorage();
    const { recording, sent } = recordingFetch();
    const tab1 = new LoginGuardApi({ baseUrl: server.url, deviceTokens: storage, fetch: recording });
    const first = await tab1.signIn({ username: "user1", password: "password1", device: "Tab 1" });
    const id = storage.kept.get(LoginGuardApi.deviceIdKey);
    assert.match(id, /^[A-Za-z0-9_-]{22}$/);
    assert.equal(sent[0].device_id, id);
    assert.equal(first.session.device_class, "web");

    // Another tab of the same browser shares the storage: it replaces the first session.
    const tab2 = new LoginGuardApi({ baseUrl: server.url, deviceTokens: storage, fetch: recording });
    const second = await tab2.signIn({ username: "user1", password: "password1", device: "Tab 2", deviceClass: "web" });
    assert.equal(sent[1].device_id, id, "the same id, kept");
    assert.deepEqual(second.revoked_sessions.map((s) => s.session_id), [first.session_id]);
    const oldTab = new LoginGuardApi({ baseUrl: server.url, token: first.token });
    await assert.rejects(oldTab.session(), (err) => err.code === "session_revoked" && err.details.reason === "replaced");

    // Another browser (its own storage, its own id) is refused under deny_new.
    const other = new LoginGuardApi({ baseUrl: server.url, deviceTokens: mapStorage() });
    await assert.rejects(other.signIn({ username: "user1", password: "password1" }), (err) => err.code === "session_limit_reached");
  });

  test("a kept value that is no device id is replaced by a fresh one", () => {
    const storage = mapStorage();
    storage.setItem(LoginGuardApi.deviceIdKey, "bad id!");
    const api = new LoginGuardApi({ baseUrl: server.url, deviceTokens: storage });
    const id = api.deviceId();
    assert.match(id, /^[A-Za-z0-9_-]{22}$/);
    assert.equal(api.deviceId(), id, "kept from then on");
  });
});

describe("against an `ask` server with two places", () => {
  const server = serverForSuite({ args: ["--on-limit", "ask", "--max-sessions", "2"] });

  test("signIn resolves to a choice at the limit, and evict signs the chosen session out and this device in", async () => {
    const a = await login(server.url, "user1", "password1", "Laptop");
    const { client, log } = await online(server, a.body.token);
    await login(server.url, "user1", "password1", "Phone");
    const api = new LoginGuardApi({ baseUrl: server.url, deviceTokens: mapStorage() });
    const outcome = await api.signIn({ username: "user1", password: "password1", device: "New PC" });
    assert.equal(outcome.outcome, "choose");
    assert.deepEqual(outcome.choices.map((c) => c.device).sort(), ["Laptop", "Phone"]);
    assert.ok(outcome.choices.every((c) => c.device_class && c.ip && c.last_seen_at));
    assert.match(outcome.ticketExpiresAt, /Z$/);
    assert.equal(api.token, null, "not signed in yet");
    const laptop = outcome.choices.find((c) => c.device === "Laptop");
    const signed = await outcome.evict(laptop.session_id);
    assert.equal(signed.outcome, "signed_in");
    assert.equal(signed.session.device, "New PC");
    assert.equal(api.token, signed.token);
    await eventually(() => log.named("forceLogout").length === 1, { what: "the chosen device is told" });
    assert.equal(log.named("forceLogout")[0].payload.by.device, "New PC");
    await assert.rejects(outcome.evict(laptop.session_id), (err) => err.status === 400 && err.code === "invalid_ticket");
    client.close();
  });
});

describe("server restart (Redis keeps the sessions)", () => {
  const server = serverForSuite({ redis: true });

  test("goes online -> reconnecting -> online with backoff, and keeps its session", async () => {
    const a = await login(server.url, "user1", "password1", "Survivor");
    const backoff = { initial: 50, max: 400, factor: 2, jitter: 0.5 };
    const { client, log, urls } = await online(server, a.body.token, { backoff });
    await server.stop();
    await eventually(() => client.state === "reconnecting", { what: "reconnecting" });
    const first = log.named("disconnect")[0].payload;
    assert.equal(first.code, 1012, "a clean shutdown says server_restarting");
    assert.equal(first.reconnect, true);
    await eventually(() => log.named("disconnect").length >= 3, { what: "failed attempts while down", timeoutMs: 5000 });
    await server.restart();
    await eventually(() => client.state === "online", { what: "online again", timeoutMs: 5000 });
    assert.equal(client.session.session_id, a.body.session_id);
    assert.deepEqual(log.states.slice(0, 3), ["connecting", "online", "reconnecting"]);
    assert.equal(log.states.at(-1), "online");
    const delays = log.named("disconnect").map((e) => e.payload.delay);
    assert.ok(delays.every((d) => d <= 400), `capped: ${delays}`);
    assert.ok(urls.length >= 3);
  });
});

describe("against a server in cookie mode", () => {
  const APP = "https://app.example";
  const server = serverForSuite({ args: ["--cookie", "lg", "--cookie-insecure", "--allowed-origins", APP] });

  /** Signs in over HTTP and returns the body and the `lg` cookie loginguard set. */
  async function signInForCookie(username, password, device) {
    const res = await fetch(`${server.url}/api/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username, password, device }),
    });
    assert.equal(res.status, 200);
    const cookie = res.headers.getSetCookie().find((c) => c.startsWith("lg="));
    assert.ok(cookie, "sign-in sets the lg cookie");
    return { body: await res.json(), cookie: cookie.split(";")[0] };
  }

  /** A WebSocket constructor that sends `headers` with the upgrade, as a browser sends its cookie and Origin. */
  function browserLike(headers, urls = []) {
    return class extends WebSocket {
      constructor(url) {
        super(url, { headers });
        urls.push(String(url));
      }
    };
  }

  test("cookie: true authenticates with the upgrade's cookie from a listed origin, and is kicked like a token", async () => {
    const first = await signInForCookie("user1", "password1", "Laptop");
    const WebSocketWithCookie = browserLike({ cookie: first.cookie, origin: APP });
    const { client, log } = await online(server, undefined, { cookie: true, WebSocket: WebSocketWithCookie, ...QUICK_RETRY });
    assert.equal(log.named("authenticated")[0].payload.session_id, first.body.session_id);
    await signInForCookie("user1", "password1", "Phone");
    await eventually(() => client.state === "offline", { what: "offline after kick", timeoutMs: 2000 });
    const kick = log.named("forceLogout")[0].payload;
    assert.equal(kick.reason, "duplicate_login");
    assert.equal(kick.by.device, "Phone");
    assert.equal(log.named("disconnect")[0].payload.code, 4001);
  });

  test("without a listed Origin the cookie is not used: closed 4003 and never retried", async () => {
    const { cookie } = await signInForCookie("user2", "password2", "Desk");
    const urls = [];
    const { client, log } = open(server, undefined, { cookie: true, WebSocket: browserLike({ cookie }, urls), ...QUICK_RETRY });
    client.connect();
    await eventually(() => client.state === "offline" && log.named("disconnect").length, { what: "closed on connect" });
    assert.equal(log.named("disconnect")[0].payload.code, 4003);
    assert.equal(log.named("disconnect")[0].payload.reconnect, false);
    assert.ok(!log.states.includes("online"), `states: ${log.states}`);
    await noReconnect(urls, "after 4003");
  });

  test("the options take a token or cookie: true, never both and never neither", () => {
    assert.throws(() => new LoginGuardClient({ url: server.wsUrl, WebSocket }), /`token` \(or `cookie: true`\) is required/);
    assert.throws(() => new LoginGuardClient({ url: server.wsUrl, WebSocket, cookie: false }), /is required/);
    assert.throws(() => new LoginGuardClient({ url: server.wsUrl, WebSocket, token: "t", cookie: true }), /not both/);
  });
});

describe("pure helpers", () => {
  test("backoffDelay grows exponentially, is capped, and jitters downwards", () => {
    const b = { initial: 100, max: 1000, factor: 2, jitter: 0.5 };
    assert.deepEqual([0, 1, 2, 3, 4, 10].map((n) => backoffDelay(n, b, () => 0)), [100, 200, 400, 800, 1000, 1000]);
    assert.equal(backoffDelay(2, b, () => 0.999999), 200);
    for (let i = 0; i < 100; i++) {
      const d = backoffDelay(3, b);
      assert.ok(d >= 400 && d <= 800, `${d}`);
    }
  });

  test("describeForceLogout says why in plain words, in the viewer's time zone", () => {
    const msg = {
      reason: "duplicate_login",
      by: { device: "Chrome on PC2", ip: "203.0.113.7", at: "2026-11-26T10:00:00.123Z" },
      at: "2026-11-26T10:00:00.125Z",
    };
    assert.equal(
      describeForceLogout(msg, { username: "user1", timeZone: "UTC", locale: "en-GB" }),
      "You were signed out because user1 signed in on Chrome on PC2 (203.0.113.7) at 10:00:00.",
    );
    assert.match(describeForceLogout({ ...msg, reason: "revoked_by_user" }, { username: "user1", timeZone: "UTC" }), /ended this session from Chrome on PC2/);
    assert.equal(describeForceLogout({ reason: "expired", by: null }), "You were signed out because your session expired.");
    assert.equal(
      describeForceLogout({ reason: "account_removed", by: null }, { username: "user1" }),
      "You were signed out because the account user1 was removed.",
    );
    assert.doesNotMatch(describeForceLogout({ reason: "password_changed", by: null }), /change your password/i);
    assert.equal(
      describeForceLogout({ reason: "revoked_by_app", by: null, at: msg.at }, { username: "user1", timeZone: "UTC", locale: "en-GB" }),
      "The application signed user1 out at 10:00:00.",
    );
    assert.equal(describeForceLogout({ reason: "replaced", by: msg.by, at: msg.at }), "You signed in again in another tab of this browser.");
    assert.equal(describeForceLogout({ reason: "something_new", message: "Server words." }), "Server words.");
  });

  test("guessDeviceName reads common User-Agents", () => {
    const chromeLinux = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36";
    assert.equal(guessDeviceName(chromeLinux), "Chrome on Linux");
    assert.equal(guessDeviceName("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"), "Firefox on Windows");
    assert.equal(
      guessDeviceName("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"),
      "Safari on iPhone",
    );
    assert.equal(guessDeviceName("Mozilla/5.0 (Windows NT 10.0) AppleWebKit/537.36 Chrome/126.0 Safari/537.36 Edg/126.0"), "Edge on Windows");
    assert.equal(guessDeviceName(""), "This browser");
  });
});
