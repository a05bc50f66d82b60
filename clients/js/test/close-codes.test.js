// Checks the client against the generated close-code table (close-codes.js,
// written from crates/loginguard/src/ws/close.rs by a Rust test that also
// fails when the file is stale). This file checks only the JS side: that the
// client exports that very table, derives CloseCode and shouldReconnect from
// it, that the table keeps the shape the client relies on, and that the
// binary serves it beside the client so the client's import resolves.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";

import { CLOSE_CODES as GENERATED } from "../close-codes.js";
import { CLOSE_CODES, CloseCode, shouldReconnect } from "../index.js";
import { serverForSuite } from "./server.js";

const entries = Object.entries(GENERATED);

test("the client exports the generated table itself, frozen", () => {
  assert.equal(CLOSE_CODES, GENERATED);
  assert.ok(Object.isFrozen(CLOSE_CODES));
  for (const [code, c] of entries) assert.ok(Object.isFrozen(c), `${code} is frozen`);
});

test("every entry is a close code with a name, a short reason, a reconnect flag and one sentence", () => {
  assert.ok(entries.length >= 6, `only ${entries.length} codes`);
  const codes = entries.map(([code]) => Number(code));
  assert.deepEqual(codes, [...codes].sort((a, b) => a - b), "sorted by code");
  for (const [code, c] of entries) {
    assert.match(code, /^(1\d{3}|4\d{3})$/, "a standard (1xxx) or application (4xxx) code");
    assert.deepEqual(Object.keys(c), ["name", "reason", "reconnect", "meaning"], `fields of ${code}`);
    assert.match(c.name, /^[A-Z][A-Z0-9_]*$/);
    assert.match(c.reason, /^[a-z0-9_]{1,123}$/, "short ASCII: it travels in the close frame");
    assert.equal(typeof c.reconnect, "boolean");
    assert.match(c.meaning, /^[A-Z][^\n]*\.$/, `one sentence for ${code}`);
  }
  const names = entries.map(([, c]) => c.name);
  assert.equal(new Set(names).size, names.length, "names are unique");
});

test("CloseCode is the table by name", () => {
  assert.deepEqual(
    CloseCode,
    Object.fromEntries(entries.map(([code, c]) => [c.name, Number(code)])),
  );
  assert.equal(CloseCode.REVOKED, 4001);
});

test("shouldReconnect follows the table; 4001 and 4003 are terminal; unknown codes reconnect", () => {
  for (const [code, c] of entries) assert.equal(shouldReconnect(Number(code)), c.reconnect, `${code} ${c.name}`);
  // PROTOCOL.md: never reconnect after 4001 (revoked) or 4003 (unauthorized).
  assert.equal(shouldReconnect(4001), false);
  assert.equal(shouldReconnect(4003), false);
  // Codes outside the table (1006 lost connection, 1000 normal) reconnect.
  assert.equal(shouldReconnect(1006), true);
  assert.equal(shouldReconnect(1000), true);
});

describe("served by the binary", () => {
  const server = serverForSuite();

  test("at /client/close-codes.js, beside the client that imports it", async () => {
    const client = await fetch(`${server.url}/client/loginguard-client.js`);
    assert.match(await client.text(), /from "\.\/close-codes\.js"/);
    const res = await fetch(new URL("./close-codes.js", client.url));
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type"), /^text\/javascript/);
    assert.equal(await res.text(), readFileSync(new URL("../close-codes.js", import.meta.url), "utf8"));
  });
});
