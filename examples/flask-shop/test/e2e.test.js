// End to end: the Flask shop (its own accounts and sign-in form) behind
// nginx, which asks loginguard about every page; loginguard in cookie mode
// with an API key for the shop; the shop's webhook receiver, which checks
// signatures with `standardwebhooks`. Two Chromium
// contexts (playwright-core, Debian's Chromium) sign in as the same user:
// the first is told at once in its page and refused on its next request,
// the second goes on. Every wait is for a condition, with a deadline.

import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { chromium } from "playwright-core";

import { eventually, freePort, serverForSuite } from "../../../clients/js/test/server.js";
import {
  SHOP_CONF,
  addShopUser,
  makeApiKey,
  makeWebhookSecret,
  repoRoot,
  startNginx,
  startReceiver,
  startShop,
  writeWebhooksFile,
} from "./stack.js";

// THE SWITCH for the merger: flip to true once `loginguard serve
// --webhooks FILE` delivers events (the `webhooks` branch; when this test
// was written it loaded the file but did not deliver yet). Then loginguard
// is started with the receiver in its webhooks file, and the last test
// asserts that the receiver got `session.created` and `session.revoked`,
// every delivery verified by `standardwebhooks`.
const LOGINGUARD_SENDS_WEBHOOKS = false;

const PASSWORD = "correct horse battery staple";
const executablePath = process.env.CHROMIUM ?? "/usr/bin/chromium";

describe("the Flask shop behind nginx and loginguard", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "loginguard-shop-"));
  const lgArgs = [];
  const ports = {};
  let apiKey;
  let secret;
  let origin;
  let shop;
  let receiver;
  let nginx;
  let browser;

  // Runs before serverForSuite's own `before`, so loginguard gets these.
  before(async () => {
    for (const name of ["nginx", "shop", "receiver"]) ports[name] = await freePort();
    origin = `http://127.0.0.1:${ports.nginx}`;
    apiKey = makeApiKey(dir);
    secret = makeWebhookSecret();
    lgArgs.push("--api-keys", apiKey.file, "--cookie", "lg", "--cookie-insecure", "--allowed-origins", origin);
    if (LOGINGUARD_SENDS_WEBHOOKS) {
      lgArgs.push("--webhooks", writeWebhooksFile(dir, `http://127.0.0.1:${ports.receiver}/webhooks/loginguard`, secret));
    }
  });
  // An empty users file: every session comes from the shop.
  const loginguard = serverForSuite({ args: lgArgs, users: [] });
  before(async () => {
    const database = path.join(dir, "shop.db");
    addShopUser(database, "alice", PASSWORD);
    receiver = await startReceiver({ port: ports.receiver, secret });
    shop = await startShop({ port: ports.shop, database, loginguardUrl: loginguard.url, apiKey: apiKey.key });
    nginx = await startNginx(dir, { port: ports.nginx, loginguard: loginguard.addr, shop: `127.0.0.1:${ports.shop}` });
    browser = await chromium.launch({
      executablePath,
      headless: true,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-sync"],
    });
  });
  after(async () => {
    await browser?.close();
    await nginx?.stop();
    await shop?.stop();
    await receiver?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const receiverUrl = (p) => `http://127.0.0.1:${ports.receiver}${p}`;
  const recorded = async () => (await fetch(receiverUrl("/events"))).json();

  /** A new device: its own cookies, one page, its script errors collected. */
  async function device() {
    const context = await browser.newContext({ locale: "en-US", timezoneId: "UTC" });
    const page = await context.newPage();
    const errors = [];
    page.on("pageerror", (err) => errors.push(err.message));
    return { context, page, errors };
  }

  /** Opens the shop, is sent to its form, signs in as alice on `deviceName`; resolves on the live page. */
  async function signIn(dev, deviceName) {
    const { page } = dev;
    await page.goto(`${origin}/`);
    assert.equal(new URL(page.url()).pathname, "/login", "a visitor is sent to the sign-in form");
    await page.fill("#username", "alice");
    await page.fill("#password", PASSWORD);
    await page.fill("#device", deviceName);
    await Promise.all([page.waitForURL(`${origin}/`, { timeout: 10_000 }), page.click("button[type=submit]")]);
    assert.equal(await page.textContent("#user"), "alice");
    await page.locator('#lg-status[data-state="online"]').waitFor({ timeout: 10_000 });
  }

  /** GET `p` through nginx with `dev`'s cookies, following no redirect. */
  const get = (dev, p) => dev.context.request.get(`${origin}${p}`, { maxRedirects: 0 });

  test("docs/integration.md shows nginx/shop.conf exactly, the config this test runs", () => {
    const docs = readFileSync(path.join(repoRoot, "docs/integration.md"), "utf8");
    const blocks = [...docs.matchAll(/```nginx\n([\s\S]*?)```/g)].map((m) => m[1]);
    assert.ok(blocks.includes(readFileSync(SHOP_CONF, "utf8")), "an ```nginx block of docs/integration.md is nginx/shop.conf word for word");
  });

  test("without a session the shop's pages send the visitor to the sign-in form, which is public", async () => {
    const home = await fetch(`${origin}/`, { redirect: "manual" });
    assert.equal(home.status, 303);
    assert.equal(home.headers.get("location"), "/login");
    const forged = await fetch(`${origin}/`, { redirect: "manual", headers: { "x-loginguard-user": "alice", cookie: "lg=forged" } });
    assert.equal(forged.status, 303, "neither a forged header nor a made-up cookie gets through");
    const form = await fetch(`${origin}/login`);
    assert.equal(form.status, 200);
    assert.match(await form.text(), /<form method="post" action="\/login">/);
  });

  test("a wrong password stays on the form and sets no cookie", async () => {
    const res = await fetch(`${origin}/login`, {
      method: "POST",
      body: new URLSearchParams({ username: "alice", password: "wrong", device: "Laptop" }),
      redirect: "manual",
    });
    assert.equal(res.status, 401);
    assert.match(await res.text(), /Wrong user name or password\./);
    assert.equal(res.headers.get("set-cookie"), null);
  });

  test("the webhook receiver verifies every signature: a bad one is refused and not recorded", async () => {
    const body = JSON.stringify({ type: "test.ping", timestamp: new Date().toISOString(), data: {} });
    const now = String(Math.floor(Date.now() / 1000));
    const key = Buffer.from(secret.slice("whsec_".length), "base64");
    const signature = (id) => `v1,${createHmac("sha256", key).update(`${id}.${now}.${body}`).digest("base64")}`;
    const post = (headers) =>
      fetch(receiverUrl("/webhooks/loginguard"), { method: "POST", headers: { "content-type": "application/json", ...headers }, body });
    const before = await recorded();
    const good = { "webhook-id": "msg_test_1", "webhook-timestamp": now, "webhook-signature": signature("msg_test_1") };
    assert.equal((await post({ ...good, "webhook-signature": signature("msg_other") })).status, 400, "a signature of another id");
    assert.equal((await post({ ...good, "webhook-signature": "v1,garbage" })).status, 400, "a malformed signature");
    assert.equal((await post({ ...good, "webhook-signature": "not even versioned" })).status, 400, "no v1, part");
    assert.equal((await post({ "webhook-id": "msg_test_1", "webhook-timestamp": now })).status, 400, "no signature");
    assert.equal((await post(good)).status, 204);
    assert.equal((await post(good)).status, 204, "a redelivery is accepted");
    const after = await recorded();
    assert.equal(after.rejected - before.rejected, 4);
    const pings = after.events.filter((e) => e.webhook_id === "msg_test_1");
    assert.equal(pings.length, 1, "recorded once per webhook-id");
    assert.equal(pings[0].type, "test.ping");
  });

  test("two browsers, one account: the first is told at once and refused next time; the second goes on", async () => {
    const laptop = await device();
    const phone = await device();
    await signIn(laptop, "Laptop");

    const [cookie] = (await laptop.context.cookies(origin)).filter((c) => c.name === "lg");
    assert.ok(cookie, "the shop set loginguard's cookie");
    assert.equal(cookie.httpOnly, true);
    assert.equal(cookie.sameSite, "Lax");
    assert.ok(!(await laptop.page.evaluate(() => document.cookie)).includes("lg="), "page scripts cannot read the token");

    await signIn(phone, "Phone");
    const told = laptop.page.locator("#lg-message-text");
    await laptop.page.locator("#lg-message:not([hidden])").waitFor({ timeout: 3000 });
    assert.equal(await told.textContent(), "You were signed out: Phone signed in (127.0.0.1).");

    const refused = await get(laptop, "/");
    assert.equal(refused.status(), 303, "the laptop's next request through nginx is refused");
    assert.equal(refused.headers().location, "/login");
    const verify = await get(laptop, "/api/auth/verify");
    assert.equal(verify.status(), 401);
    assert.equal((await verify.json()).error.code, "session_revoked");
    await laptop.page.goto(`${origin}/`);
    assert.equal(new URL(laptop.page.url()).pathname, "/login");

    const still = await get(phone, "/");
    assert.equal(still.status(), 200, "the phone's session goes on");
    assert.match(await still.text(), /Welcome, <span id="user">alice<\/span>/);
    assert.equal(await phone.page.getAttribute("#lg-status", "data-state"), "online");
    assert.equal(await phone.page.isHidden("#lg-message"), true);

    // The shop's own sign-out ends the session in loginguard too.
    await Promise.all([phone.page.waitForURL(`${origin}/login`, { timeout: 10_000 }), phone.page.click("#sign-out")]);
    assert.equal((await get(phone, "/")).status(), 303, "after signing out the phone is refused");
    assert.deepEqual([...laptop.errors, ...phone.errors], []);
    await laptop.context.close();
    await phone.context.close();
  });

  test(
    "loginguard's webhooks reach the receiver, every one verified",
    { skip: LOGINGUARD_SENDS_WEBHOOKS ? false : "LOGINGUARD_SENDS_WEBHOOKS is off until the webhooks branch is merged" },
    async () => {
      const events = await eventually(
        async () => {
          const { events } = await recorded();
          const ofAlice = events.filter((e) => e.data?.username === "alice");
          const revoked = ofAlice.filter((e) => e.type === "session.revoked");
          return revoked.length >= 2 ? ofAlice : null;
        },
        { timeoutMs: 15_000, what: "session.created and session.revoked at the receiver" },
      );
      const created = events.filter((e) => e.type === "session.created");
      assert.deepEqual(created.map((e) => e.data.device).sort(), ["Laptop", "Phone"]);
      const laptopId = created.find((e) => e.data.device === "Laptop").data.session_id;
      const phoneId = created.find((e) => e.data.device === "Phone").data.session_id;
      const reasons = Object.fromEntries(events.filter((e) => e.type === "session.revoked").map((e) => [e.data.session_id, e.data.reason]));
      assert.deepEqual(reasons, { [laptopId]: "duplicate_login", [phoneId]: "revoked_by_app" });
      assert.equal((await recorded()).rejected, 4, "no delivery of loginguard's failed to verify (4 are the forged ones above)");
    },
  );
});
