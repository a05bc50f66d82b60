// The page's behaviour: sign-in (with the demo accounts in demo mode), the
// live session list, the forced-logout dialog, the login_blocked notice and
// the admin view. It talks to the server only through loginguard-client
// (HTTP and WebSocket). It keeps the token in sessionStorage (never a cookie,
// never a URL) and builds the DOM with textContent only, so no server string
// is ever parsed as HTML.

import { LoginGuardApi, LoginGuardClient, describeForceLogout, guessDeviceName } from "/client/loginguard-client.js";
import { policyEditor } from "/assets/policies.js";

const STORAGE_KEY = "loginguard.session";
const REFRESH_EVERY_MS = 30_000;

const $ = (id) => document.getElementById(id);
const el = {
  app: $("app"),
  badge: $("badge"),
  whoami: $("whoami"),
  signoutButton: $("signout-button"),
  signinView: $("signin-view"),
  signinTitle: $("signin-title"),
  signinNotice: $("signin-notice"),
  signinError: $("signin-error"),
  chooser: $("signin-chooser"),
  chooserTitle: $("chooser-title"),
  chooserList: $("chooser-list"),
  demoAccounts: $("demo-accounts"),
  demoList: $("demo-list"),
  signinForm: $("signin-form"),
  signinSubmit: $("signin-submit"),
  username: $("username"),
  password: $("password"),
  device: $("device"),
  accountView: $("account-view"),
  accountTitle: $("account-title"),
  accountName: $("account-name"),
  notices: $("notices"),
  sessions: $("sessions"),
  sessionsSummary: $("sessions-summary"),
  sessionsRefresh: $("sessions-refresh"),
  adminView: $("admin-view"),
  adminLimit: $("admin-limit"),
  adminRefresh: $("admin-refresh"),
  adminSummary: $("admin-summary"),
  adminStatus: $("admin-status"),
  adminBody: document.querySelector("#admin-table tbody"),
  adminPrev: $("admin-prev"),
  adminNext: $("admin-next"),
  adminPage: $("admin-page"),
  activity: $("activity"),
  activitySummary: $("activity-summary"),
  dialog: $("kicked-dialog"),
  dialogTitle: $("kicked-title"),
  dialogText: $("kicked-text"),
  dialogDetails: $("kicked-details"),
  signinAgain: $("signin-again"),
};

const api = new LoginGuardApi();
const page = {
  /** {token, session_id, user, device} of this tab's session, or null. */
  me: null,
  client: null,
  kicked: false,
  leaving: false,
  listSeq: 0,
  refreshTimer: null,
  admin: { cursors: [null], index: 0, seq: 0 },
  activitySeq: 0,
};

// ---------- formatting ----------

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });
const timeOnly = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" });

function localTime(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "unknown time";
  const today = new Date();
  return d.toDateString() === today.toDateString() ? `today, ${timeOnly.format(d)}` : dateTime.format(d);
}

/** "12:58:01" today, else the date and time. */
function shortTime(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "an unknown time";
  return d.toDateString() === new Date().toDateString() ? timeOnly.format(d) : dateTime.format(d);
}

function timeElement(iso, format = localTime) {
  const t = document.createElement("time");
  t.dateTime = iso;
  t.textContent = format(iso);
  t.title = dateTime.format(new Date(iso));
  return t;
}

function node(tag, props = {}, ...children) {
  const n = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === "class") n.className = v;
    else if (k === "text") n.textContent = v;
    else if (k.startsWith("data-") || k.startsWith("aria-")) n.setAttribute(k, v);
    else n[k] = v;
  }
  for (const c of children) if (c !== null && c !== undefined) n.append(c);
  return n;
}

const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`;

// ---------- storage ----------

function saveMe(me) {
  page.me = me;
  if (me) sessionStorage.setItem(STORAGE_KEY, JSON.stringify(me));
  else sessionStorage.removeItem(STORAGE_KEY);
  api.token = me?.token ?? null;
}

function loadMe() {
  try {
    const me = JSON.parse(sessionStorage.getItem(STORAGE_KEY) ?? "null");
    return me && typeof me.token === "string" ? me : null;
  } catch {
    return null;
  }
}

// ---------- views ----------

const BADGE_TEXT = { connecting: "Connecting…", online: "Online", reconnecting: "Reconnecting…", offline: "Offline" };

function setBadge(state) {
  el.badge.dataset.state = state;
  el.badge.querySelector(".badge-label").textContent = BADGE_TEXT[state] ?? state;
  el.badge.title = state === "online" ? "Live: this page hears about sign-outs at once" : BADGE_TEXT[state];
}

function showSignIn({ notice = "", username = "" } = {}) {
  stopLive();
  el.accountView.hidden = true;
  el.whoami.hidden = true;
  el.signoutButton.hidden = true;
  el.signinView.hidden = false;
  el.signinError.hidden = true;
  el.signinNotice.hidden = !notice;
  el.signinNotice.textContent = notice;
  if (username) el.username.value = username;
  el.password.value = "";
  setBadge("offline");
  (el.username.value ? el.password : el.username).focus();
}

function showAccount() {
  const { user, device } = page.me;
  el.signinView.hidden = true;
  el.accountView.hidden = false;
  el.accountName.textContent = user.name && user.name !== user.username ? `${user.name} (${user.username})` : user.username;
  el.whoami.textContent = `${user.username} · ${device}`;
  el.whoami.hidden = false;
  el.signoutButton.hidden = false;
  el.adminView.hidden = !user.is_admin;
  el.notices.replaceChildren();
  el.sessions.replaceChildren();
  el.sessionsSummary.textContent = "Loading…";
  el.accountTitle.focus();
}

// ---------- the live connection ----------

function startLive() {
  stopLive();
  const client = new LoginGuardClient({ token: page.me.token });
  page.client = client;
  client.on("stateChange", ({ state }) => setBadge(state));
  client.on("authenticated", () => refreshSessions());
  client.on("sessionsChanged", () => refreshSessions());
  client.on("forceLogout", (msg) => kicked(msg));
  client.on("loginBlocked", (msg) => loginBlocked(msg));
  client.on("disconnect", ({ code }) => {
    if (code === 4003 && !page.kicked) {
      saveMe(null);
      showSignIn({ notice: "Your session is no longer valid. Please sign in again." });
    }
  });
  client.connect();
  page.refreshTimer = setInterval(() => {
    if (client.state === "online") refreshSessions();
  }, REFRESH_EVERY_MS);
}

function stopLive() {
  clearInterval(page.refreshTimer);
  page.refreshTimer = null;
  page.client?.close();
  page.client = null;
}

/** Any API failure: a dead session opens the dialog, anything else is shown where it happened. */
function handleApiError(err, show) {
  if (err.status === 401 && (err.code === "session_revoked" || err.code === "session_expired")) {
    kicked({ reason: err.details.reason, by: err.details.by ?? null, at: err.details.revoked_at, message: err.message });
    return;
  }
  if (err.status === 401) {
    saveMe(null);
    showSignIn({ notice: "Your session is no longer valid. Please sign in again." });
    return;
  }
  show(err.code === "network_error" ? "The server cannot be reached right now. The page keeps trying." : err.message);
}

// ---------- the forced-logout dialog ----------

const DIALOG_TITLES = {
  duplicate_login: "Signed in on another device",
  revoked_by_user: "Signed out from another session",
  revoked_by_admin: "Signed out by an administrator",
  expired: "Your session expired",
  password_changed: "Your password changed",
  account_removed: "Your account was removed",
  revoked_by_app: "Signed out by the application",
  replaced: "Signed in again in another tab",
  logout: "You signed out",
};

function kicked(msg) {
  if (page.leaving || page.kicked) return;
  page.kicked = true;
  const username = page.me?.user?.username ?? "";
  stopLive();
  setBadge("offline");
  el.dialogTitle.textContent = DIALOG_TITLES[msg.reason] ?? "You were signed out";
  el.dialogText.textContent = describeForceLogout(msg, { username });
  const details = [];
  if (msg.by) {
    details.push(["Device", msg.by.device || "unnamed device"], ["IP address", msg.by.ip], ["When", timeElement(msg.by.at)]);
  } else if (msg.at) {
    details.push(["When", timeElement(msg.at)]);
  }
  el.dialogDetails.replaceChildren(...details.flatMap(([k, v]) => [node("dt", { text: k }), node("dd", {}, v)]));
  el.dialogDetails.hidden = details.length === 0;
  el.dialog.dataset.reason = msg.reason ?? "";
  el.dialog.dataset.username = username;
  saveMe(null);
  el.app.inert = true;
  el.dialog.showModal();
  el.signinAgain.focus();
}

function leaveDialog() {
  const username = el.dialog.dataset.username ?? "";
  if (el.dialog.open) el.dialog.close();
  el.app.inert = false;
  page.kicked = false;
  showSignIn({ username });
}

el.signinAgain.addEventListener("click", leaveDialog);
// Escape closes a modal dialog; the old page must not come back, so closing
// it any way leads to the sign-in form.
el.dialog.addEventListener("close", () => {
  if (page.kicked) leaveDialog();
});

// ---------- notices ----------

function loginBlocked(msg) {
  const who = page.me?.user?.username ?? "your account";
  const by = msg.by ?? {};
  const text = node(
    "p",
    {},
    node("strong", { text: "Blocked sign-in. " }),
    `Someone with the right password for ${who} tried to sign in on ${by.device || "an unnamed device"} (${by.ip}) at `,
    timeElement(by.at, shortTime),
    ". It was refused because this account is already signed in on as many devices as it is allowed. If it wasn't you, someone else knows your password: tell your administrator.",
  );
  const close = node("button", { type: "button", class: "button ghost small", text: "Dismiss" });
  const box = node("div", { class: "alert warning notice", role: "alert", "data-kind": "login-blocked" }, text, close);
  close.addEventListener("click", () => box.remove());
  el.notices.prepend(box);
}

// ---------- your sessions ----------

async function refreshSessions() {
  if (!page.me) return;
  const seq = ++page.listSeq;
  try {
    const sessions = await api.sessions();
    if (seq !== page.listSeq || !page.me) return;
    renderSessions(sessions);
  } catch (err) {
    if (seq !== page.listSeq) return;
    handleApiError(err, (m) => {
      el.sessionsSummary.textContent = m;
    });
  }
}

function deviceIcon(device) {
  const phone = /iphone|android|phone|mobile/i.test(device);
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  const path = document.createElementNS(ns, "path");
  path.setAttribute(
    "d",
    phone ? "M8 2h8a2 2 0 0 1 2 2v16a2 2 0 0 1-2 2H8a2 2 0 0 1-2-2V4a2 2 0 0 1 2-2zm3 17h2" : "M4 4h16a1 1 0 0 1 1 1v10a1 1 0 0 1-1 1H4a1 1 0 0 1-1-1V5a1 1 0 0 1 1-1zm4 16h8m-4-4v4",
  );
  svg.append(path);
  return node("div", { class: "device-icon" }, svg);
}

function renderSessions(sessions) {
  const mine = sessions.find((s) => s.current);
  if (mine && page.me && mine.device !== page.me.device) {
    saveMe({ ...page.me, device: mine.device });
    el.whoami.textContent = `${page.me.user.username} · ${mine.device}`;
  }
  const sorted = [...sessions].sort((a, b) => Number(b.current) - Number(a.current) || a.created_at.localeCompare(b.created_at));
  el.sessionsSummary.textContent =
    sessions.length === 1 ? "Only this device is signed in." : `${plural(sessions.length, "device is", "devices are")} signed in to this account.`;
  el.sessions.replaceChildren(
    ...sorted.map((s) => {
      const title = node(
        "div",
        { class: "session-title" },
        node("span", { class: "device", text: s.device || "Unnamed device" }),
        node("span", { class: "tag device-class", text: s.device_class }),
      );
      if (s.current) title.append(node("span", { class: "tag current", text: "This device" }));
      const meta = node(
        "div",
        { class: "session-meta" },
        node("span", { class: "ip", text: s.ip }),
        node("span", {}, "Signed in ", timeElement(s.created_at)),
        node("span", { class: "connections", text: plural(s.connections, "connection", "connections") }),
      );
      const button = node("button", {
        type: "button",
        class: s.current ? "button ghost small" : "button danger small",
        text: "Sign out",
        "aria-label": s.current ? "Sign out of this device" : `Sign out ${s.device || "this session"}`,
      });
      button.addEventListener("click", () => (s.current ? signOut() : revoke(s, button)));
      return node(
        "li",
        { class: s.current ? "session is-current" : "session", "data-session-id": s.session_id, "data-current": String(s.current) },
        deviceIcon(s.device),
        node("div", { class: "session-body" }, title, meta),
        button,
      );
    }),
  );
}

async function revoke(session, button) {
  button.disabled = true;
  try {
    await api.revokeSession(session.session_id);
  } catch (err) {
    if (err.status !== 404) handleApiError(err, (m) => (el.sessionsSummary.textContent = m));
  }
  refreshSessions();
}

async function signOut() {
  page.leaving = true;
  const username = page.me?.user?.username ?? "";
  stopLive();
  try {
    await api.signOut();
  } catch {
    // Already gone on the server: signing out locally is all that is left.
  }
  saveMe(null);
  page.leaving = false;
  showSignIn({ notice: "You signed out.", username });
}

// ---------- admin ----------

async function loadAdminPage() {
  if (!page.me?.user?.is_admin) return;
  loadActivity();
  const seq = ++page.admin.seq;
  const cursor = page.admin.cursors[page.admin.index];
  const limit = Number(el.adminLimit.value);
  el.adminSummary.textContent = "Loading…";
  try {
    const result = await api.adminSessions({ cursor, limit });
    if (seq !== page.admin.seq) return;
    page.admin.cursors.length = page.admin.index + 1;
    if (result.next_cursor) page.admin.cursors.push(result.next_cursor);
    renderAdmin(result, limit);
  } catch (err) {
    if (seq !== page.admin.seq) return;
    handleApiError(err, (m) => (el.adminSummary.textContent = m));
  }
}

function renderAdmin(result, limit) {
  const first = page.admin.index * limit;
  const shown = result.sessions.length;
  el.adminSummary.replaceChildren(
    shown === 0 ? "No live sessions." : `Sessions ${first + 1}–${first + shown} of ${result.count}, as of `,
    ...(shown === 0 ? [] : [timeElement(result.generated_at), "."]),
  );
  el.adminPage.textContent = `Page ${page.admin.index + 1}`;
  el.adminPrev.disabled = page.admin.index === 0;
  el.adminNext.disabled = !result.next_cursor;
  showPolicies(result.sessions.map((s) => s.username));
  el.adminBody.replaceChildren(
    ...result.sessions.map((s) => {
      const button = node("button", {
        type: "button",
        class: "button danger small",
        text: "Force sign-out",
        "aria-label": `Force sign-out of ${s.username} on every device`,
        "data-username": s.username,
      });
      button.addEventListener("click", () => forceSignOut(s.username));
      const mine = s.session_id === page.me.session_id;
      return node(
        "tr",
        { "data-username": s.username, "data-session-id": s.session_id },
        node("td", {}, node("strong", { text: s.username }), mine ? node("span", { class: "tag current", text: "You" }) : null),
        node("td", { text: s.device || "Unnamed device" }),
        node("td", { class: "device-class", text: s.device_class }),
        node("td", { class: "ip", text: s.ip }),
        node("td", {}, timeElement(s.created_at)),
        node("td", { class: "num", text: String(s.connections) }),
        node("td", { class: "actions" }, button),
      );
    }),
  );
}

// ---------- admin: activity (the audit trail) ----------

/** How many of the newest audit entries the Activity list shows. */
const ACTIVITY_SHOWN = 20;

const ACTIVITY_WORDS = {
  signed_in: "signed in",
  sign_in_failed: "wrong password",
  denied: "sign-in refused: session limit reached",
  signed_out: "signed out",
  expired: "session expired",
};

function activityText(e) {
  if (e.type !== "revoked") return ACTIVITY_WORDS[e.type] ?? e.type;
  const why = DIALOG_TITLES[e.reason] ?? e.reason ?? "revoked";
  return `signed out: ${why.toLowerCase()}`;
}

async function loadActivity() {
  const seq = ++page.activitySeq;
  try {
    const { entries } = await api.adminAudit({ limit: ACTIVITY_SHOWN });
    if (seq !== page.activitySeq) return;
    el.activitySummary.textContent = entries.length === 0 ? "Nothing happened yet." : `The newest ${plural(entries.length, "event", "events")}, newest first.`;
    el.activity.replaceChildren(...entries.map(activityItem));
  } catch (err) {
    if (seq !== page.activitySeq) return;
    handleApiError(err, (m) => (el.activitySummary.textContent = m));
  }
}

function activityItem(e) {
  const where = [e.device, e.ip].filter(Boolean).join(" · ");
  return node(
    "li",
    { class: `activity-item ${e.type}`, "data-type": e.type, "data-username": e.username },
    timeElement(e.at),
    " ",
    node("strong", { text: e.username }),
    " ",
    node("span", { class: "activity-what", text: activityText(e) }),
    where ? node("span", { class: "muted", text: ` (${where})` }) : null,
    e.by ? node("span", { class: "muted", text: ` by ${e.by.device}` }) : null,
  );
}

async function forceSignOut(username) {
  for (const b of el.adminBody.querySelectorAll("button")) if (b.dataset.username === username) b.disabled = true;
  try {
    const { revoked } = await api.adminSignOutUser(username);
    el.adminStatus.textContent = `${username} was signed out of ${plural(revoked, "session", "sessions")}.`;
    el.adminStatus.hidden = false;
  } catch (err) {
    handleApiError(err, (m) => {
      el.adminStatus.textContent = m;
      el.adminStatus.hidden = false;
    });
  }
  if (page.me) loadAdminPage();
}

const showPolicies = policyEditor({
  api,
  node,
  onError: handleApiError,
  ui: {
    body: document.querySelector("#policy-table tbody"),
    form: $("policy-form"),
    username: $("policy-username"),
    max: $("policy-max"),
    onLimit: $("policy-on-limit"),
    classes: $("policy-classes"),
    remove: $("policy-remove"),
    status: $("policy-status"),
  },
});

el.adminRefresh.addEventListener("click", () => loadAdminPage());
el.adminLimit.addEventListener("change", () => {
  page.admin = { cursors: [null], index: 0, seq: page.admin.seq };
  loadAdminPage();
});
el.adminNext.addEventListener("click", () => {
  if (page.admin.cursors.length > page.admin.index + 1) {
    page.admin.index += 1;
    loadAdminPage();
  }
});
el.adminPrev.addEventListener("click", () => {
  if (page.admin.index > 0) {
    page.admin.index -= 1;
    loadAdminPage();
  }
});

// ---------- sign-in ----------

function signInError(err) {
  if (err.code === "session_limit_reached") {
    const active = err.details.active_sessions ?? [];
    const list = node(
      "ul",
      { class: "compact-list" },
      ...active.map((s) => node("li", {}, node("strong", { text: s.device || "Unnamed device" }), ` (${s.ip}), since `, timeElement(s.created_at))),
    );
    return [
      node("p", {}, node("strong", { text: "This account is signed in on too many devices. " }), "Sign out on one of them first, then try again."),
      active.length ? node("p", { class: "small-text", text: "Signed in now:" }) : null,
      active.length ? list : null,
    ].filter(Boolean);
  }
  const words = {
    invalid_credentials: "The user name or password is wrong.",
    rate_limited: "Too many failed attempts. Wait a minute, then try again.",
    bad_request: `The server did not accept this: ${err.message}`,
    store_unavailable: "The service is unavailable right now. Try again in a moment.",
    network_error: "The server cannot be reached. Check your connection and try again.",
  };
  return [words[err.code] ?? err.message];
}

el.signinForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const username = el.username.value.trim();
  const password = el.password.value;
  const device = el.device.value.trim();
  if (!username || !password) {
    el.signinError.replaceChildren("Enter your user name and password.");
    el.signinError.hidden = false;
    (username ? el.password : el.username).focus();
    return;
  }
  el.signinSubmit.disabled = true;
  el.signinSubmit.textContent = "Signing in…";
  el.signinError.hidden = true;
  el.chooser.hidden = true;
  try {
    const outcome = await api.signIn({ username, password, device });
    if (outcome.outcome === "choose") showChooser(outcome, device);
    else signedIn(outcome, device);
  } catch (err) {
    showSignInError(err);
  } finally {
    el.signinSubmit.disabled = false;
    el.signinSubmit.textContent = "Sign in";
  }
});

function signedIn(result, device) {
  el.chooser.hidden = true;
  saveMe({ token: result.token, session_id: result.session_id, user: result.user, device: device || "this device" });
  el.password.value = "";
  showAccount();
  page.admin = { cursors: [null], index: 0, seq: page.admin.seq };
  startLive();
  loadAdminPage();
}

function showSignInError(err) {
  el.signinError.replaceChildren(...signInError(err));
  el.signinError.dataset.code = err.code;
  el.signinError.hidden = false;
  el.password.select();
  el.password.focus();
}

/** `on_limit = ask` at the limit: the sessions to choose from, each with a button that signs it out and this device in. */
function showChooser(outcome, device) {
  const n = outcome.choices.length;
  el.chooserTitle.firstChild.textContent = `This account is signed in on ${plural(n, "device", "devices")}; choose one to sign out`;
  el.chooserList.replaceChildren(
    ...outcome.choices.map((s) => {
      const button = node("button", {
        type: "button",
        class: "button danger small",
        text: "Sign out",
        "aria-label": `Sign out ${s.device || "this device"} and sign in here`,
      });
      button.addEventListener("click", async () => {
        for (const b of el.chooserList.querySelectorAll("button")) b.disabled = true;
        try {
          signedIn(await outcome.evict(s.session_id), device);
        } catch (err) {
          el.chooser.hidden = true;
          showSignInError(err);
        }
      });
      return node(
        "li",
        { class: "chooser-item", "data-session-id": s.session_id },
        deviceIcon(s.device),
        node(
          "div",
          { class: "session-body" },
          node(
            "div",
            { class: "session-title" },
            node("span", { class: "device", text: s.device || "Unnamed device" }),
            node("span", { class: "tag device-class", text: s.device_class }),
          ),
          node("div", { class: "session-meta" }, node("span", { class: "ip", text: s.ip }), node("span", {}, "Last used ", timeElement(s.last_seen_at))),
        ),
        button,
      );
    }),
  );
  el.chooser.hidden = false;
  el.chooserList.querySelector("button")?.focus();
}

el.signoutButton.addEventListener("click", () => signOut());
el.sessionsRefresh.addEventListener("click", () => refreshSessions());

// ---------- demo accounts ----------

/** In demo mode, lists the demo accounts on the sign-in form: a newcomer sees the page before the log. */
async function showDemoAccounts() {
  let accounts;
  try {
    accounts = await api.demoAccounts();
  } catch {
    return; // the form works without the hint
  }
  const admin = (a) => (a.is_admin ? [" ", node("span", { class: "tag neutral", text: "admin" })] : []);
  el.demoList.replaceChildren(
    ...accounts.map((a) => node("li", {}, node("code", { text: a.username }), " / ", node("code", { text: a.password }), ...admin(a))),
  );
  el.demoAccounts.hidden = accounts.length === 0;
}

// ---------- start ----------

async function start() {
  el.device.value = guessDeviceName(navigator.userAgent);
  showDemoAccounts();
  const me = loadMe();
  if (!me) {
    showSignIn();
    return;
  }
  saveMe(me);
  try {
    const session = await api.session();
    saveMe({ ...me, user: session.user, device: session.device });
    showAccount();
    startLive();
    loadAdminPage();
  } catch (err) {
    if (err.code === "network_error" && me.user) {
      // The server is away: show what we know and let the client reconnect.
      showAccount();
      startLive();
      return;
    }
    handleApiError(err, (m) => showSignIn({ notice: m, username: me.user?.username }));
  }
}

start();
