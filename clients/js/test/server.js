// Test support: starts and stops REAL loginguard and redis-server processes
// on free loopback ports, for the client's unit tests and the browser tests
// (one fixture for both: `serverForSuite` in a `describe`).
// It must not fake any server behaviour; it only spawns the binary built by
// cargo (LOGINGUARD_BIN, else target/debug/loginguard) and reads its log.

import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { after, before } from "node:test";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, "../../..");
export const binary = process.env.LOGINGUARD_BIN ?? path.join(repoRoot, "target/debug/loginguard");

const ANSI = /\x1b\[[0-9;]*m/g;

/** A free TCP port on 127.0.0.1 (free when asked; the caller binds it soon after). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function waitForLine(proc, pattern, what, timeoutMs) {
  return new Promise((resolve, reject) => {
    let log = "";
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`${what} did not start within ${timeoutMs} ms; its output:\n${log}`));
    }, timeoutMs);
    const onData = (chunk) => {
      log += chunk.toString().replace(ANSI, "");
      const m = log.match(pattern);
      if (m) {
        cleanup();
        resolve(m);
      }
    };
    const onExit = (code) => {
      cleanup();
      reject(new Error(`${what} exited with ${code} before it was ready; its output:\n${log}`));
    };
    const cleanup = () => {
      clearTimeout(timer);
      proc.stdout.off("data", onData);
      proc.stderr.off("data", onData);
      proc.off("exit", onExit);
    };
    proc.stdout.on("data", onData);
    proc.stderr.on("data", onData);
    proc.once("exit", onExit);
  });
}

/** Ends `proc` with `signal` (SIGKILL after `timeoutMs`); resolves once it has exited. */
export function stopProcess(proc, signal = "SIGTERM", timeoutMs = 5000) {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => proc.kill("SIGKILL"), timeoutMs);
    proc.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    proc.kill(signal);
  });
}

/**
 * A `loginguard serve` with `args`, not started yet. `start()` resolves once
 * it logs the address it chose and fills in `addr`, `url` and `wsUrl`;
 * `stop()` ends it; `restart()` starts it again on the same address with the
 * same arguments.
 */
function loginguard(args) {
  const server = { args, proc: null, addr: null, url: null, wsUrl: null };
  const launch = async (where) => {
    if (!existsSync(binary)) {
      throw new Error(`loginguard binary not found at ${binary}; run \`cargo build\` first or set LOGINGUARD_BIN`);
    }
    const proc = spawn(binary, ["serve", "--listen", where, ...server.args], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, NO_COLOR: "1", RUST_LOG: process.env.RUST_LOG ?? "info" },
    });
    if (process.env.TEST_LOG) {
      proc.stderr.on("data", (c) => process.stderr.write(c));
      proc.stdout.on("data", (c) => process.stderr.write(c));
    } else {
      // Keep the pipes drained so a chatty server never blocks on a full pipe.
      proc.stderr.resume();
      proc.stdout.resume();
    }
    const m = await waitForLine(proc, /loginguard listening addr=(\S+)/, "loginguard", 20_000);
    server.proc = proc;
    server.addr = m[1];
    server.url = `http://${server.addr}`;
    server.wsUrl = `ws://${server.addr}/ws`;
  };
  server.start = () => launch("127.0.0.1:0");
  server.stop = () => (server.proc ? stopProcess(server.proc) : Promise.resolve());
  server.restart = async () => {
    await server.stop();
    await launch(server.addr);
  };
  return server;
}

/**
 * The server of the enclosing `describe`: registers a `before` that starts
 * loginguard with `args`, on a fresh redis-server of its own when `redis`,
 * with a users file of `users` ([{username, password}]) when given (else in
 * demo mode), and an `after` that stops and removes all of it. Returns the
 * server at once; its `url`, `wsUrl`, `stop()` and `restart()` are live
 * inside the suite's tests.
 */
export function serverForSuite({ args = [], redis = false, users = null } = {}) {
  const server = loginguard(args);
  let store = null;
  let dir = null;
  before(async () => {
    const extra = [];
    if (redis) {
      store = await startRedis();
      extra.push("--redis", store.url);
    }
    if (users) {
      dir = mkdtempSync(path.join(os.tmpdir(), "loginguard-users-"));
      extra.push("--users", writeUsersFile(dir, users));
    }
    server.args = [...extra, ...args];
    await server.start();
  });
  after(async () => {
    await server.stop();
    await store?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  return server;
}

/**
 * Writes `dir`/users.toml with `accounts` and returns its path. The hashes
 * come from the binary's own `hash-password`, so the file is what an
 * operator would write.
 */
function writeUsersFile(dir, accounts) {
  const entries = accounts.map(({ username, password }) => {
    const run = spawnSync(binary, ["hash-password"], { input: `${password}\n`, encoding: "utf8" });
    if (run.status !== 0) throw new Error(`loginguard hash-password failed: ${run.stderr}`);
    return `[[users]]\nusername = "${username}"\npassword_hash = "${run.stdout.trim()}"\n`;
  });
  const file = path.join(dir, "users.toml");
  writeFileSync(file, entries.join("\n"));
  return file;
}

/** Starts a throw-away redis-server on a free port (no persistence). */
export async function startRedis() {
  const port = await freePort();
  const proc = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "yes"],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  await waitForLine(proc, /Ready to accept connections/, "redis-server", 10_000);
  proc.stdout.resume();
  proc.stderr.resume();
  return { url: `redis://127.0.0.1:${port}/0`, stop: () => stopProcess(proc, "SIGKILL") };
}

/** Polls `check` until it returns a truthy value or `timeoutMs` passes. */
export async function eventually(check, { timeoutMs = 5000, intervalMs = 20, what = "condition" } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** POST /api/auth/login as JSON; resolves to {status, body}. */
export async function login(baseUrl, username, password, device) {
  const res = await fetch(`${baseUrl}/api/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username, password, device }),
  });
  return { status: res.status, body: await res.json() };
}
