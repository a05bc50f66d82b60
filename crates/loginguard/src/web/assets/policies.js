// The admin view's account policies: each listed user's runtime override
// and effective policy, and the form that sets or removes an override
// (GET|PUT|DELETE /api/admin/users/{username}/policy). app.js owns the
// page and hands in what this needs; this file only talks to the API
// through the client it is given and builds the DOM with textContent.

const ON_LIMIT_WORDS = {
  kick_oldest: "sign out the oldest",
  deny_new: "refuse the new one",
  ask: "ask which to sign out",
};

/** `web=1,mobile=2` as `{web: 1, mobile: 2}`; "none" is `{}`; null if malformed. */
export function parseClassLimits(text) {
  const raw = text.trim();
  if (raw === "none") return {};
  const limits = {};
  for (const item of raw.split(",").map((s) => s.trim()).filter(Boolean)) {
    const m = /^([a-z0-9_-]{1,32})\s*=\s*(\d+)$/.exec(item);
    if (!m) return null;
    limits[m[1]] = Number(m[2]);
  }
  return limits;
}

function classText(limits) {
  const pairs = Object.entries(limits ?? {}).map(([c, n]) => `${c}=${n}`);
  return pairs.length === 0 ? "none" : pairs.join(",");
}

/** "2 sessions · refuse the new one · classes web=1", only the fields set. */
function policyText(p) {
  const parts = [];
  if (p.max_sessions !== undefined) parts.push(`${p.max_sessions} ${p.max_sessions === 1 ? "session" : "sessions"}`);
  if (p.on_limit !== undefined) parts.push(ON_LIMIT_WORDS[p.on_limit] ?? p.on_limit);
  if (p.class_limits !== undefined) parts.push(`classes ${classText(p.class_limits)}`);
  return parts.join(" · ");
}

/**
 * Wires the policy table and form. `ui` holds the elements (body, form,
 * username, max, onLimit, classes, remove, status), `node` builds elements,
 * `onError(err, show)` handles an API error (a 401 leaves the page).
 * Returns `show(usernames)`, which lists those users' policies.
 */
export function policyEditor({ api, ui, node, onError }) {
  /** Users shown: the admin page's, plus any the admin edited here. */
  let listed = [];
  const edited = new Set();
  let seq = 0;

  function say(text, kind = "success") {
    ui.status.className = `alert ${kind}`;
    ui.status.textContent = text;
    ui.status.hidden = false;
  }

  function fill(p) {
    const o = p.override ?? {};
    ui.username.value = p.username;
    ui.max.value = o.max_sessions ?? "";
    ui.onLimit.value = o.on_limit ?? "";
    ui.classes.value = o.class_limits === undefined ? "" : classText(o.class_limits);
    ui.max.focus();
  }

  function row(p) {
    const edit = node("button", { type: "button", class: "button ghost small", text: "Edit", "aria-label": `Edit the policy of ${p.username}` });
    edit.addEventListener("click", () => fill(p));
    const remove = node("button", { type: "button", class: "button danger small", text: "Remove", "aria-label": `Remove the override of ${p.username}` });
    remove.addEventListener("click", () => removeOverride(p.username));
    return node(
      "tr",
      { "data-username": p.username },
      node("td", {}, node("strong", { text: p.username })),
      node("td", { class: "policy-override", text: p.override ? policyText(p.override) : "none" }),
      node("td", { class: "policy-effective", text: policyText(p.effective) }),
      node("td", { class: "actions" }, edit, p.override ? remove : null),
    );
  }

  async function show(usernames) {
    listed = [...new Set(usernames)];
    const mine = ++seq;
    const names = [...new Set([...listed, ...edited])].sort();
    try {
      const policies = await Promise.all(names.map((u) => api.adminPolicy(u)));
      if (mine !== seq) return;
      ui.body.replaceChildren(...policies.map(row));
    } catch (err) {
      if (mine === seq) onError(err, (m) => say(m, "error"));
    }
  }

  async function removeOverride(username) {
    try {
      await api.adminRemovePolicy(username);
      say(`${username} follows the configured policy again from the next sign-in.`);
    } catch (err) {
      onError(err, (m) => say(m, "error"));
    }
    await show(listed);
  }

  ui.form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const username = ui.username.value.trim();
    const policy = {};
    if (ui.max.value !== "") policy.max_sessions = Number(ui.max.value);
    if (ui.onLimit.value !== "") policy.on_limit = ui.onLimit.value;
    if (ui.classes.value.trim() !== "") {
      const limits = parseClassLimits(ui.classes.value);
      if (limits === null) return say("Class limits: class=limit pairs, e.g. web=1,mobile=2, or none.", "error");
      policy.class_limits = limits;
    }
    if (Object.keys(policy).length === 0) return say("Set at least one field, or remove the override.", "error");
    try {
      const saved = await api.adminSetPolicy(username, policy);
      edited.add(saved.username);
      say(`Saved: ${saved.username} gets ${policyText(saved.effective)} from the next sign-in.`);
    } catch (err) {
      return onError(err, (m) => say(m, "error"));
    }
    await show(listed);
  });

  ui.remove.addEventListener("click", () => {
    const username = ui.username.value.trim();
    if (username) removeOverride(username);
  });

  return show;
}
