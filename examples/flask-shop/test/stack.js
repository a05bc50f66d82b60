// Test support for the shop example: starts the shop, its webhook receiver
// and nginx (with the example's own nginx/shop.conf, only its ports and
// listen line swapped) as real processes on free loopback ports, and makes
// the API key and webhook secret the way an operator would (loginguard's
// own `api-key new`). loginguard itself is started by the JS client's test
// fixture (clients/js/test/server.js). Nothing here fakes a server.

import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { binary, eventually, stopProcess } from "../../../clients/js/test/server.js";

const here = path.dirname(fileURLToPath(import.meta.url));
export const example = path.resolve(here, "..");
export const repoRoot = path.resolve(example, "../..");
/** The virtualenv's python with requirements.txt installed (scripts/test makes it). */
const python = process.env.SHOP_PYTHON ?? "python3";

/** `loginguard api-key new shop --scopes sessions`: writes the keys file into `dir`, returns {key, file}. */
export function makeApiKey(dir) {
  const run = spawnSync(binary, ["api-key", "new", "shop", "--scopes", "sessions"], { encoding: "utf8" });
  if (run.status !== 0) throw new Error(`loginguard api-key new failed: ${run.stderr}`);
  const [key, ...toml] = run.stdout.split("\n");
  if (!/^lgk_[A-Za-z0-9_-]{43}$/.test(key)) throw new Error(`api-key new printed no key first: ${run.stdout}`);
  const file = path.join(dir, "api-keys.toml");
  writeFileSync(file, toml.join("\n"));
  return { key, file };
}

/** A fresh Standard Webhooks secret: `whsec_` and 32 random bytes in base64. */
export function makeWebhookSecret() {
  return `whsec_${randomBytes(32).toString("base64")}`;
}

/** loginguard's `--webhooks` file: every session event to `url`, signed with `secret`. */
export function writeWebhooksFile(dir, url, secret) {
  const file = path.join(dir, "webhooks.toml");
  writeFileSync(
    file,
    `[[webhook]]\nurl = "${url}"\nsecret = "${secret}"\nevents = ["session.created", "session.revoked", "session.denied"]\n`,
  );
  return file;
}

/** `python -m shop add-user NAME` with the password on standard input. */
export function addShopUser(database, username, password) {
  const run = spawnSync(python, ["-m", "shop", "add-user", username], {
    cwd: example,
    input: `${password}\n`,
    encoding: "utf8",
    env: { ...process.env, SHOP_DATABASE: database },
  });
  if (run.status !== 0) throw new Error(`python -m shop add-user failed (${run.status}): ${run.stderr}`);
}

/**
 * Spawns `command`, keeps its output, and resolves once `ready()` is true;
 * rejects with that output if it exits first or is not ready in 20 s.
 * The result's `stop()` ends it.
 */
async function startProcess(what, command, args, { cwd, env, ready }) {
  const proc = spawn(command, args, { cwd, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  const keep = (chunk) => {
    log += chunk;
    if (process.env.TEST_LOG) process.stderr.write(chunk);
  };
  proc.stdout.on("data", keep);
  proc.stderr.on("data", keep);
  let exited = null;
  proc.once("exit", (code, signal) => (exited = signal ?? code));
  const stop = () => stopProcess(proc);
  try {
    await eventually(
      async () => {
        if (exited !== null) throw new Error(`${what} exited (${exited}) before it was ready`);
        return ready().catch(() => false);
      },
      { timeoutMs: 20_000, intervalMs: 50, what: `${what} to answer` },
    );
  } catch (err) {
    await stop();
    throw new Error(`${err.message}; its output:\n${log}`);
  }
  return { proc, stop, log: () => log };
}

const answers = (url) => async () => (await fetch(url, { redirect: "manual" })).status === 200;

/** The shop (`flask --app shop run`) on `port`, talking to loginguard at `loginguardUrl`. */
export function startShop({ port, database, loginguardUrl, apiKey }) {
  return startProcess("the shop", python, ["-m", "flask", "--app", "shop", "run", "--host", "127.0.0.1", "--port", String(port)], {
    cwd: example,
    env: {
      SHOP_DATABASE: database,
      LOGINGUARD_URL: loginguardUrl,
      LOGINGUARD_API_KEY: apiKey,
      LOGINGUARD_COOKIE: "lg",
      SHOP_COOKIE_SECURE: "0",
      PYTHONUNBUFFERED: "1",
    },
    ready: answers(`http://127.0.0.1:${port}/login`),
  });
}

/** The webhook receiver (`flask --app receiver run`) on `port`. */
export function startReceiver({ port, secret }) {
  return startProcess("the webhook receiver", python, ["-m", "flask", "--app", "receiver", "run", "--host", "127.0.0.1", "--port", String(port)], {
    cwd: example,
    env: { WEBHOOK_SECRET: secret, PYTHONUNBUFFERED: "1" },
    ready: answers(`http://127.0.0.1:${port}/events`),
  });
}

/** The example's nginx config as shipped (the file docs/integration.md shows). */
export const SHOP_CONF = path.join(example, "nginx/shop.conf");

/** Replaces `from` by `to` in `text`, which must hold it exactly once. */
function swapOnce(text, from, to) {
  const parts = text.split(from);
  if (parts.length !== 2) throw new Error(`nginx/shop.conf must contain \`${from}\` exactly once (found ${parts.length - 1})`);
  return parts.join(to);
}

/** shop.conf with this run's ports, inside a main config that keeps nginx in `dir`. */
export function nginxConfig(dir, { port, loginguard, shop }) {
  let site = readFileSync(SHOP_CONF, "utf8");
  site = swapOnce(site, "server 127.0.0.1:8080;", `server ${loginguard};`);
  site = swapOnce(site, "server 127.0.0.1:5000;", `server ${shop};`);
  site = swapOnce(site, "listen 80;", `listen 127.0.0.1:${port};`);
  writeFileSync(path.join(dir, "shop.conf"), site);
  const temp = path.join(dir, "tmp");
  mkdirSync(temp, { recursive: true });
  return `daemon off;
master_process off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log info;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${temp}/body;
  proxy_temp_path ${temp}/proxy;
  fastcgi_temp_path ${temp}/fastcgi;
  uwsgi_temp_path ${temp}/uwsgi;
  scgi_temp_path ${temp}/scgi;
  include ${dir}/shop.conf;
}
`;
}

function nginxBinary() {
  const dirs = [...(process.env.PATH ?? "").split(":"), "/usr/sbin", "/usr/local/sbin"];
  const found = dirs.map((d) => path.join(d, "nginx")).find((p) => existsSync(p));
  if (!found) throw new Error("`nginx` is not installed: the example's test needs Debian's nginx (scripts/test installs it)");
  return found;
}

/** nginx with shop.conf on `port`, in `dir`, once /login answers through it. */
export function startNginx(dir, ports) {
  const conf = path.join(dir, "nginx.conf");
  writeFileSync(conf, nginxConfig(dir, ports));
  return startProcess("nginx", nginxBinary(), ["-p", dir, "-c", conf, "-e", path.join(dir, "error.log")], {
    ready: answers(`http://127.0.0.1:${ports.port}/login`),
  });
}
