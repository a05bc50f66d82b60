// End-to-end tests of the page served at `/`, in Debian's Chromium driven by
// playwright-core, against REAL loginguard processes (and a real
// redis-server for the restart test). Each browser context is a separate
// device (PC1, PC2, ...) with its own storage. Screenshots go to
// artifacts/ (LG_SCREENSHOTS overrides); they are not compared, only kept.
// It must never download a browser: CHROMIUM or /usr/bin/chromium only.

import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

import { login, serverForSuite } from "../../clients/js/test/server.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const shots = process.env.LG_SCREENSHOTS ?? path.join(here, "artifacts");
mkdirSync(shots, { recursive: true });

const executablePath = process.env.CHROMIUM ?? "/usr/bin/chromium";

let browser;
before(async () => {
  // playwright gives every launch a fresh, temporary user-data-dir.
  browser = await chromium.launch({
    executablePath,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
});
after(async () => {
  await browser?.close();
});

/** A new device: its own context (storage, cookies) and one page, with JS errors collected. */
async function device(name, { viewport = { width: 1100, height: 760 } } = {}) {
  const context = await browser.newContext({ viewport, locale: "en-US", timezoneId: "UTC" });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (err) => errors.push(`${name}: ${err.message}`));
  page.on("console", (msg) => {
    if (/Content.Security.Policy|Refused to/i.test(msg.text())) errors.push(`${name}: ${msg.text()}`);
  });
  return { name, context, page, errors };
}

/** A new device with the page open on the sign-in form, once the page has asked for the demo accounts. */
async function opened(name, server) {
  const dev = await device(name);
  const demo = dev.page.waitForResponse((r) => r.url().endsWith("/api/demo"));
  await dev.page.goto(server.url, { waitUntil: "domcontentloaded" });
  await dev.page.locator("#signin-view:not([hidden])").waitFor();
  await demo;
  return dev;
}

/** Signs in through the form, using the keyboard only. Returns the login response. */
async function signIn(dev, { username, password, deviceName }) {
  const { page } = dev;
  await page.locator("#username").focus();
  await page.keyboard.type(username);
  await page.keyboard.press("Tab");
  await page.keyboard.type(password);
  await page.keyboard.press("Tab");
  await page.keyboard.press("ControlOrMeta+A");
  await page.keyboard.type(deviceName);
  const response = page.waitForResponse((r) => r.url().endsWith("/api/auth/login"));
  await page.keyboard.press("Enter");
  return response;
}

const badge = (dev) => dev.page.locator("#badge").getAttribute("data-state");

async function waitBadge(dev, state, timeout = 5000) {
  await dev.page.locator(`#badge[data-state="${state}"]`).waitFor({ timeout });
}

/** Records every state the badge shows, from now on. */
async function recordBadge(dev) {
  await dev.page.evaluate(() => {
    const badge = document.getElementById("badge");
    window.__badgeStates = [badge.dataset.state];
    new MutationObserver(() => window.__badgeStates.push(badge.dataset.state)).observe(badge, { attributes: true });
  });
  return () => dev.page.evaluate(() => window.__badgeStates);
}

/** user1's credentials on the form of device `pc` ("Chrome on PC1", ...). */
const user1On = (pc) => ({ username: "user1", password: "password1", deviceName: `Chrome on ${pc}` });

/** A new device signed in through the form, once its badge says online. */
async function signedIn(name, server, credentials) {
  const dev = await opened(name, server);
  await signIn(dev, credentials);
  await waitBadge(dev, "online");
  return dev;
}

/** Checks that no device saw a script error or a CSP violation, then closes them all. */
async function done(...devs) {
  assert.deepEqual(devs.flatMap((d) => d.errors), [], "no script errors or CSP violations");
  for (const d of devs) await d.context.close();
}

describe("two devices, one session (default policy)", () => {
  const server = serverForSuite();

  test("PC2 signing in shows PC1 a dialog naming PC2 within 1 s, and PC1 cannot act behind it", async () => {
    const pc1 = await opened("PC1", server);
    const pc2 = await opened("PC2", server);

    assert.equal(await pc2.page.inputValue("#device"), "Chrome on Linux", "device name pre-filled from the browser");
    assert.equal(await pc2.page.evaluate(() => document.activeElement?.id), "username", "focus starts in the form");
    await pc2.page.screenshot({ path: path.join(shots, "signin.png") });
    const first = await signIn(pc1, user1On("PC1"));
    assert.equal(first.status(), 200);
    await waitBadge(pc1, "online");
    await pc1.page.locator("#sessions li").first().waitFor();
    assert.deepEqual(await pc1.context.cookies(), [], "no cookies: the token lives in sessionStorage");
    const stored = await pc1.page.evaluate(() => JSON.parse(sessionStorage.getItem("loginguard.session")));
    assert.equal(typeof stored.token, "string");

    const second = await signIn(pc2, user1On("PC2"));
    assert.equal(second.status(), 200);
    const t0 = Date.now();
    await pc1.page.locator("#kicked-dialog[open]").waitFor({ timeout: 1000 });
    const elapsed = Date.now() - t0;
    assert.ok(elapsed < 1000, `dialog after ${elapsed} ms`);

    const text = await pc1.page.locator("#kicked-text").textContent();
    assert.match(text, /^You were signed out because user1 signed in on Chrome on PC2 \(127\.0\.0\.1\) at \d\d:\d\d:\d\d\.$/);
    assert.equal(await pc1.page.locator("#kicked-title").textContent(), "Signed in on another device");
    assert.match(await pc1.page.locator("#kicked-details").textContent(), /Chrome on PC2/);
    assert.equal(await badge(pc1), "offline");

    // Focus is in the dialog, and stays there.
    assert.equal(await pc1.page.evaluate(() => document.activeElement?.id), "signin-again");
    for (let i = 0; i < 4; i++) {
      await pc1.page.keyboard.press("Tab");
      assert.ok(await pc1.page.evaluate(() => document.getElementById("kicked-dialog").contains(document.activeElement) || document.activeElement === document.body));
    }
    await pc1.page.locator("#signin-again").focus();
    // The page behind is inert: its buttons cannot be clicked or focused.
    assert.equal(await pc1.page.evaluate(() => document.getElementById("app").inert), true);
    await assert.rejects(pc1.page.locator("#sessions button").first().click({ timeout: 500 }));
    await assert.rejects(pc1.page.locator("#signout-button").click({ timeout: 500 }));
    await pc1.page.screenshot({ path: path.join(shots, "kicked.png") });

    // PC2's list shows one session: this device.
    await waitBadge(pc2, "online");
    await pc2.page.locator("#sessions li").first().waitFor();
    const rows = pc2.page.locator("#sessions li");
    assert.equal(await rows.count(), 1);
    assert.equal(await rows.first().getAttribute("data-current"), "true");
    assert.match(await rows.first().textContent(), /Chrome on PC2.*This device.*127\.0\.0\.1.*Signed in.*1 connection/s);

    // A reload keeps PC2 signed in (sessionStorage) and online again.
    await pc2.page.reload();
    await waitBadge(pc2, "online");
    assert.equal(await pc2.page.locator("#sessions li").count(), 1);

    // "Sign in again" leads to the form with the user name kept, focus on the password.
    await pc1.page.keyboard.press("Enter");
    await pc1.page.locator("#signin-view:not([hidden])").waitFor();
    assert.equal(await pc1.page.locator("#kicked-dialog").getAttribute("open"), null);
    assert.equal(await pc1.page.inputValue("#username"), "user1");
    assert.equal(await pc1.page.evaluate(() => document.activeElement?.id), "password");
    assert.equal(await pc1.page.evaluate(() => sessionStorage.getItem("loginguard.session")), null);
    await done(pc1, pc2);
  });

  test("in demo mode the sign-in form lists the demo accounts, and they sign in", async () => {
    const pc = await opened("PC", server);
    const notice = pc.page.locator("#demo-accounts");
    await notice.waitFor({ state: "visible" });
    assert.match(await notice.textContent(), /Demo mode\./);
    const rows = (await notice.locator("li").allTextContents()).map((t) => t.replace(/\s+/g, " ").trim());
    assert.deepEqual(rows, ["user1 / password1", "user2 / password2", "admin / admin123 admin"]);
    await notice.screenshot({ path: path.join(shots, "demo-accounts.png") });
    await signIn(pc, { username: "admin", password: "admin123", deviceName: "Admin desk" });
    await pc.page.locator("#admin-view:not([hidden])").waitFor();
    await done(pc);
  });

  test("a wrong password is explained; Escape on the dialog still leads to sign-in, never back", async () => {
    const pc1 = await opened("PC1", server);
    await signIn(pc1, { username: "user2", password: "nope", deviceName: "PC1" });
    await pc1.page.locator("#signin-error:not([hidden])").waitFor();
    assert.match(await pc1.page.locator("#signin-error").textContent(), /user name or password is wrong/);
    await pc1.page.locator("#password").fill("password2");
    await pc1.page.locator("#password").press("Enter");
    await waitBadge(pc1, "online");
    await login(server.url, "user2", "password2", "Elsewhere");
    await pc1.page.locator("#kicked-dialog[open]").waitFor({ timeout: 1000 });
    await pc1.page.keyboard.press("Escape");
    await pc1.page.locator("#signin-view:not([hidden])").waitFor();
    assert.equal(await pc1.page.locator("#account-view").isHidden(), true);
    await done(pc1);
  });
});

describe("accounts from a users file (--users)", () => {
  const server = serverForSuite({ users: [{ username: "alice", password: "correct horse" }] });

  test("the sign-in form lists no demo accounts", async () => {
    const pc = await signedIn("PC", server, { username: "alice", password: "correct horse", deviceName: "Laptop" });
    assert.equal(await pc.page.locator("#demo-accounts").getAttribute("hidden"), "");
    assert.equal(await pc.page.locator("#demo-list li").count(), 0);
    await done(pc);
  });
});

describe("two sessions allowed (--max-sessions 2)", () => {
  const server = serverForSuite({ args: ["--max-sessions", "2"] });

  test("lists update live, and 'sign out' of another session from the list kicks it", async () => {
    const pc1 = await signedIn("PC1", server, user1On("PC1"));
    await pc1.page.locator("#sessions li").first().waitFor();
    assert.equal(await pc1.page.locator("#sessions li").count(), 1);

    const pc2 = await signedIn("PC2", server, user1On("PC2"));
    // PC1's list grows by itself (sessions_changed), without a reload.
    await pc1.page.locator("#sessions li:nth-child(2)").waitFor({ timeout: 2000 });
    await pc2.page.locator("#sessions li:nth-child(2)").waitFor();
    const current = pc2.page.locator('#sessions li[data-current="true"]');
    assert.match(await current.textContent(), /Chrome on PC2/);
    const other = pc2.page.locator('#sessions li[data-current="false"]');
    assert.match(await other.textContent(), /Chrome on PC1.*1 connection/s);
    await pc2.page.screenshot({ path: path.join(shots, "sessions.png") });

    await other.getByRole("button", { name: "Sign out Chrome on PC1" }).click();
    await pc1.page.locator("#kicked-dialog[open]").waitFor({ timeout: 1000 });
    assert.match(
      await pc1.page.locator("#kicked-text").textContent(),
      /^You were signed out because user1 ended this session from Chrome on PC2 \(127\.0\.0\.1\) at \d\d:\d\d:\d\d\.$/,
    );
    await pc2.page.waitForFunction(() => document.querySelectorAll("#sessions li").length === 1);
    assert.equal(await badge(pc2), "online");

    // A small screen: the same page, laid out for a phone.
    const phone = await device("phone", { viewport: { width: 390, height: 760 } });
    await phone.page.goto(server.url);
    await phone.page.evaluate((me) => sessionStorage.setItem("loginguard.session", JSON.stringify(me)), {
      ...(await pc2.page.evaluate(() => JSON.parse(sessionStorage.getItem("loginguard.session")))),
    });
    await phone.page.reload();
    await waitBadge(phone, "online");
    await phone.page.locator("#sessions li").first().waitFor();
    const overflow = await phone.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `no horizontal scrolling on a phone (${overflow}px)`);
    await phone.page.screenshot({ path: path.join(shots, "sessions-phone.png") });
    await done(pc1, pc2, phone);
  });
});

describe("deny_new policy (--on-limit deny_new)", () => {
  const server = serverForSuite({ args: ["--on-limit", "deny_new"] });

  test("the refused device sees 409 session_limit_reached; the signed-in one gets a login_blocked notice", async () => {
    const pc1 = await signedIn("PC1", server, user1On("PC1"));
    const pc2 = await opened("PC2", server);
    const refused = await signIn(pc2, user1On("PC2"));
    assert.equal(refused.status(), 409);
    await pc2.page.locator('#signin-error[data-code="session_limit_reached"]:not([hidden])').waitFor();
    assert.match(await pc2.page.locator("#signin-error").textContent(), /signed in on too many devices.*Chrome on PC1/s);
    await pc2.page.screenshot({ path: path.join(shots, "session-limit.png") });
    const notice = pc1.page.locator('[data-kind="login-blocked"]');
    await notice.waitFor({ timeout: 1000 });
    assert.match(await notice.textContent(), /Blocked sign-in.*tried to sign in on Chrome on PC2 \(127\.0\.0\.1\) at \d\d:\d\d:\d\d\./s);
    await pc1.page.screenshot({ path: path.join(shots, "login-blocked.png") });
    await notice.getByRole("button", { name: "Dismiss" }).click();
    assert.equal(await notice.count(), 0);
    assert.equal(await badge(pc1), "online");
    await done(pc1, pc2);
  });
});

describe("server restart (sessions in Redis)", () => {
  const server = serverForSuite({ redis: true });

  test("the badge goes reconnecting -> online and the page stays signed in", async () => {
    const pc1 = await signedIn("PC1", server, user1On("PC1"));
    await pc1.page.locator("#sessions li").first().waitFor();
    const states = await recordBadge(pc1);
    await server.stop();
    await waitBadge(pc1, "reconnecting", 3000);
    await pc1.page.screenshot({ path: path.join(shots, "reconnecting.png") });
    await server.restart();
    await waitBadge(pc1, "online", 10_000);
    const seen = await states();
    assert.equal(seen[0], "online");
    assert.ok(seen.indexOf("reconnecting") > 0, `states: ${seen}`);
    assert.equal(seen.at(-1), "online");
    assert.ok(!seen.includes("offline"), `never offline: ${seen}`);
    assert.equal(await pc1.page.locator("#account-view").isVisible(), true);
    await pc1.page.waitForFunction(() => /1 connection/.test(document.getElementById("sessions").textContent));
    await done(pc1);
  });
});

describe("admin view", () => {
  const server = serverForSuite({ args: ["--max-sessions", "4"] });

  test("lists every session page by page, and 'force sign-out' kicks the user's page", async () => {
    const pc1 = await signedIn("PC1", server, user1On("PC1"));
    for (const n of [1, 2, 3, 4]) await login(server.url, "user2", "password2", `Kiosk ${n}`);

    const adm = await opened("ADMIN", server);
    await signIn(adm, { username: "admin", password: "admin123", deviceName: "Admin desk" });
    await adm.page.locator("#admin-view:not([hidden])").waitFor();
    await adm.page.locator("#admin-table tbody tr").first().waitFor();
    // 6 sessions: admin, user1, user2 x4. Five per page -> two pages.
    await adm.page.selectOption("#admin-limit", "5");
    await adm.page.waitForFunction(() => document.querySelectorAll("#admin-table tbody tr").length === 5);
    assert.match(await adm.page.locator("#admin-summary").textContent(), /Sessions 1–5 of 6/);
    assert.equal(await adm.page.locator("#admin-prev").isDisabled(), true);
    await adm.page.locator("#admin-next").click();
    await adm.page.waitForFunction(() => document.querySelectorAll("#admin-table tbody tr").length === 1);
    assert.match(await adm.page.locator("#admin-summary").textContent(), /Sessions 6–6 of 6/);
    assert.equal(await adm.page.locator("#admin-next").isDisabled(), true);
    await adm.page.locator("#admin-prev").click();
    await adm.page.waitForFunction(() => document.querySelectorAll("#admin-table tbody tr").length === 5);
    await adm.page.selectOption("#admin-limit", "10");
    await adm.page.waitForFunction(() => document.querySelectorAll("#admin-table tbody tr").length === 6);
    await adm.page.screenshot({ path: path.join(shots, "admin.png"), fullPage: true });

    await adm.page.locator('#admin-table tr[data-username="user1"]').getByRole("button", { name: /Force sign-out of user1/ }).click();
    await pc1.page.locator("#kicked-dialog[open]").waitFor({ timeout: 1000 });
    assert.equal(await pc1.page.locator("#kicked-title").textContent(), "Signed out by an administrator");
    assert.match(await pc1.page.locator("#kicked-text").textContent(), /^An administrator signed user1 out at \d\d:\d\d:\d\d\.$/);
    await adm.page.locator("#admin-status:not([hidden])").waitFor();
    assert.equal(await adm.page.locator("#admin-status").textContent(), "user1 was signed out of 1 session.");
    await adm.page.waitForFunction(() => !document.querySelector('#admin-table tr[data-username="user1"]'));

    // The Activity list (the audit trail) refreshed with the view: user1's sign-in and the revocation.
    const activity = (type) => adm.page.locator(`#activity li[data-type="${type}"][data-username="user1"]`);
    await activity("revoked").first().waitFor();
    assert.match(await activity("revoked").first().textContent(), /\d\d:\d\d:\d\d user1 signed out: signed out by an administrator \(Chrome on PC1 · 127\.0\.0\.1\)$/);
    assert.match(await activity("signed_in").first().textContent(), /\d\d:\d\d:\d\d user1 signed in \(Chrome on PC1 · 127\.0\.0\.1\)$/);
    const kinds = await adm.page.locator("#activity li").evaluateAll((items) => items.map((li) => li.dataset.type));
    assert.equal(kinds[0], "revoked", "newest first");
    assert.equal(kinds.filter((k) => k === "signed_in").length, 6, "admin, user1 and user2's four sign-ins");
    assert.match(await adm.page.locator("#activity-summary").textContent(), /^The newest 7 events, newest first\.$/);
    await adm.page.screenshot({ path: path.join(shots, "admin-activity.png"), fullPage: true });
    await done(pc1, adm);
  });

  test("a non-admin does not see the admin view", async () => {
    const pc = await signedIn("PC", server, { username: "user2", password: "password2", deviceName: "Laptop" });
    assert.equal(await pc.page.locator("#admin-view").isHidden(), true);
    await done(pc);
  });
});

/**
 * Where the screenshots docs/policies.md shows are written: docs/ itself
 * with LG_UPDATE_DOCS=1 (to refresh them), else the artifacts, so that a
 * test run leaves the working tree as it found it.
 */
const docs = process.env.LG_UPDATE_DOCS === "1" ? path.join(here, "../../docs") : shots;

describe("admin view: runtime policy overrides", () => {
  const server = serverForSuite();

  test("the admin sees each user's override, sets one that the next sign-in obeys, and removes it", async () => {
    assert.equal((await login(server.url, "user1", "password1", "Kiosk 1")).status, 200);
    const adm = await opened("ADMIN", server);
    await signIn(adm, { username: "admin", password: "admin123", deviceName: "Admin desk" });
    const rowOf = (user) => adm.page.locator(`#policy-table tr[data-username="${user}"]`);
    await rowOf("user1").waitFor();
    assert.equal(await rowOf("user1").locator(".policy-override").textContent(), "none");
    assert.equal(await rowOf("user1").locator(".policy-effective").textContent(), "1 session · sign out the oldest · classes none");
    assert.equal(await rowOf("admin").count(), 1, "every listed user has a row");

    await rowOf("user1").getByRole("button", { name: "Edit the policy of user1" }).click();
    assert.equal(await adm.page.inputValue("#policy-username"), "user1");
    assert.equal(await adm.page.evaluate(() => document.activeElement?.id), "policy-max");
    await adm.page.locator("#policy-classes").fill("web");
    await adm.page.locator("#policy-save").click();
    await adm.page.locator("#policy-status.error:not([hidden])").waitFor();
    assert.match(await adm.page.locator("#policy-status").textContent(), /^Class limits: class=limit pairs/);

    await adm.page.locator("#policy-max").fill("2");
    await adm.page.selectOption("#policy-on-limit", "deny_new");
    await adm.page.locator("#policy-classes").fill("web=1, mobile=1");
    const saved = adm.page.waitForResponse((r) => r.url().endsWith("/api/admin/users/user1/policy") && r.request().method() === "PUT");
    await adm.page.locator("#policy-save").click();
    assert.equal((await saved).status(), 200);
    await adm.page.locator("#policy-status.success:not([hidden])").waitFor();
    assert.equal(
      await adm.page.locator("#policy-status").textContent(),
      "Saved: user1 gets 2 sessions · refuse the new one · classes mobile=1,web=1 from the next sign-in.",
    );
    await adm.page.waitForFunction(() => /refuse/.test(document.querySelector('#policy-table tr[data-username="user1"] .policy-override')?.textContent));
    assert.equal(await rowOf("user1").locator(".policy-override").textContent(), "2 sessions · refuse the new one · classes mobile=1,web=1");
    await adm.page.locator(".policies").screenshot({ path: path.join(docs, "screenshot-policies.png") });

    // The next sign-in obeys it: a second web device is refused (web=1, deny_new).
    const refused = await login(server.url, "user1", "password1", "Kiosk 2");
    assert.equal(refused.status, 409);
    assert.equal(refused.body.error.code, "session_limit_reached");

    await rowOf("user1").getByRole("button", { name: "Remove the override of user1" }).click();
    await adm.page.waitForFunction(() => document.querySelector('#policy-table tr[data-username="user1"] .policy-override')?.textContent === "none");
    assert.equal(await adm.page.locator("#policy-status").textContent(), "user1 follows the configured policy again from the next sign-in.");
    assert.equal((await login(server.url, "user1", "password1", "Kiosk 2")).status, 200, "kick_oldest again");
    await done(adm);
  });
});

describe("on_limit = ask with two places: the chooser", () => {
  const server = serverForSuite({ args: ["--on-limit", "ask", "--max-sessions", "2"] });

  test("a third device is offered the two others, with class, IP and last use, and signs the chosen one out", async () => {
    const pc1 = await signedIn("PC1", server, user1On("PC1"));
    const phone = await signedIn("Phone", server, user1On("Phone"));
    const pc3 = await opened("PC3", server);
    const refused = await signIn(pc3, user1On("PC3"));
    assert.equal(refused.status(), 409);
    const chooser = pc3.page.locator("#signin-chooser:not([hidden])");
    await chooser.waitFor();
    assert.equal(await pc3.page.locator("#chooser-title").textContent(), "This account is signed in on 2 devices; choose one to sign out");
    const items = pc3.page.locator("#chooser-list li");
    assert.equal(await items.count(), 2);
    const first = await items.nth(0).textContent();
    assert.match(first, /Chrome on PC1/);
    assert.match(first, /web/);
    assert.match(first, /127\.0\.0\.1/);
    assert.match(first, /Last used/);
    assert.equal(await pc3.page.evaluate(() => document.activeElement?.getAttribute("aria-label")), "Sign out Chrome on PC1 and sign in here");
    await pc3.page.screenshot({ path: path.join(docs, "screenshot-chooser.png") });

    const evicted = pc3.page.waitForResponse((r) => r.url().endsWith("/api/auth/login/evict"));
    await items.nth(0).locator("button").click();
    assert.equal((await evicted).status(), 200);
    await waitBadge(pc3, "online");
    await pc1.page.locator("#kicked-dialog[open]").waitFor({ timeout: 1000 });
    assert.match(await pc1.page.locator("#kicked-text").textContent(), /signed in on Chrome on PC3/);
    assert.equal(await badge(phone), "online", "the device not chosen stays");
    await done(pc1, phone, pc3);
  });
});

describe("the same browser signing in again (deny_new, one place)", () => {
  const server = serverForSuite({ args: ["--on-limit", "deny_new"] });

  test("a second tab replaces the first tab's session, and the first tab says why", async () => {
    const browserProfile = await device("Tabs");
    const tab1 = browserProfile.page;
    const tab2 = await browserProfile.context.newPage();
    for (const tab of [tab1, tab2]) {
      await tab.goto(server.url, { waitUntil: "domcontentloaded" });
      await tab.locator("#signin-view:not([hidden])").waitFor();
    }
    const first = await signIn(browserProfile, user1On("PC1"));
    assert.equal(first.status(), 200);
    await waitBadge(browserProfile, "online");

    const secondTab = { ...browserProfile, page: tab2 };
    const second = await signIn(secondTab, user1On("PC1"));
    assert.equal(second.status(), 200, "the same browser is not refused under deny_new");
    await tab1.locator("#kicked-dialog[open]").waitFor({ timeout: 1000 });
    assert.equal(await tab1.locator("#kicked-dialog").getAttribute("data-reason"), "replaced");
    assert.equal(await tab1.locator("#kicked-text").textContent(), "You signed in again in another tab of this browser.");
    assert.equal(await tab1.locator("#kicked-title").textContent(), "Signed in again in another tab");
    await tab1.screenshot({ path: path.join(docs, "screenshot-replaced.png") });
    await waitBadge(secondTab, "online");

    // Another browser (its own storage, so its own device id) is refused.
    const other = await opened("Other browser", server);
    assert.equal((await signIn(other, user1On("PC2"))).status(), 409);
    await done(browserProfile, other);
  });
});
