// Checks that the client's close-code table (index.js CLOSE_CODES) agrees
// with the server's (crates/loginguard/src/ws/close.rs): same codes, names,
// reasons, and "terminal" exactly where the Rust docs say so. It reads the
// Rust source as text; it must not need a build of the server.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";

import { CLOSE_CODES, CloseCode, shouldReconnect } from "../index.js";
import { repoRoot } from "./server.js";

const closeRs = readFileSync(path.join(repoRoot, "crates/loginguard/src/ws/close.rs"), "utf8");

/** name -> {code, doc} from `/// doc` lines followed by `pub const NAME: u16 = CODE;`. */
function rustConstants(src) {
  const out = new Map();
  let doc = [];
  for (const line of src.split("\n")) {
    const t = line.trim();
    if (t.startsWith("///")) {
      doc.push(t.slice(3).trim());
      continue;
    }
    const m = t.match(/^pub const ([A-Z0-9_]+): u16 = (\d+);/);
    if (m) out.set(m[1], { code: Number(m[2]), doc: doc.join(" ") });
    doc = [];
  }
  return out;
}

/** name -> reason from the `reason()` match arms: `NAME => "reason",`. */
function rustReasons(src) {
  const out = new Map();
  for (const m of src.matchAll(/^\s*([A-Z][A-Z0-9_]*) => "([^"]*)",/gm)) out.set(m[1], m[2]);
  return out;
}

const constants = rustConstants(closeRs);
const reasons = rustReasons(closeRs);

test("close.rs parses into a non-empty table", () => {
  assert.ok(constants.size >= 6, `found only ${constants.size} constants in close.rs`);
  assert.equal(reasons.size, constants.size, "every constant has a reason() arm");
});

test("the client knows exactly the server's codes, under the same names", () => {
  const server = [...constants].map(([name, { code }]) => `${code} ${name}`).sort();
  const client = Object.entries(CLOSE_CODES).map(([code, c]) => `${code} ${c.name}`).sort();
  assert.deepEqual(client, server);
});

test("the short reasons agree", () => {
  for (const [name, { code }] of constants) {
    assert.equal(CLOSE_CODES[code].reason, reasons.get(name), `reason of ${code} ${name}`);
  }
});

test("terminal codes are the ones close.rs documents as terminal", () => {
  for (const [name, { code, doc }] of constants) {
    const terminal = /\bTerminal\b/i.test(doc) || /do not reconnect/i.test(doc);
    assert.equal(CLOSE_CODES[code].reconnect, !terminal, `${code} ${name}: "${doc}"`);
    assert.equal(shouldReconnect(code), !terminal);
  }
  // PROTOCOL.md: never reconnect after 4001 or 4003.
  assert.equal(shouldReconnect(4001), false);
  assert.equal(shouldReconnect(4003), false);
  // Codes outside the table (1006 lost connection, 1000 normal) reconnect.
  assert.equal(shouldReconnect(1006), true);
});

test("CloseCode is the table by name", () => {
  for (const [name, { code }] of constants) assert.equal(CloseCode[name], code);
});
