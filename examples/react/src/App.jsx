// A minimal app on useLoginGuard: sign in, a live badge, the session list,
// and a modal that says why this device was signed out. It keeps the token
// in sessionStorage (never a cookie) and renders server strings as text only.

import { useEffect, useMemo, useRef, useState } from "react";
import { LoginGuardApi, describeForceLogout, guessDeviceName } from "loginguard-client";
import { useLoginGuard } from "./useLoginGuard.js";

const KEY = "loginguard.example";

export function App() {
  const [me, setMe] = useState(() => JSON.parse(sessionStorage.getItem(KEY) ?? "null"));
  const api = useMemo(() => new LoginGuardApi({ token: me?.token }), [me]);
  const forget = () => sessionStorage.removeItem(KEY);
  const { state, kicked, blocked, sessionsVersion, dismissBlocked } = useLoginGuard(me?.token ?? null, {
    onForceLogout: forget,
  });

  if (!me) {
    return (
      <SignIn
        onSignedIn={(result) => {
          const next = { token: result.token, username: result.user.username };
          sessionStorage.setItem(KEY, JSON.stringify(next));
          setMe(next);
        }}
      />
    );
  }
  return (
    <main>
      <p role="status">Connection: {state}</p>
      {blocked && (
        <p role="alert">
          Someone with the right password tried to sign in on {blocked.by.device} ({blocked.by.ip}) and was refused.{" "}
          <button onClick={dismissBlocked}>Dismiss</button>
        </p>
      )}
      <Sessions api={api} version={sessionsVersion} />
      {kicked && (
        <Kicked
          text={describeForceLogout(kicked, { username: me.username })}
          onSignInAgain={() => {
            forget();
            setMe(null);
          }}
        />
      )}
    </main>
  );
}

function SignIn({ onSignedIn }) {
  const [error, setError] = useState("");
  async function submit(event) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    try {
      onSignedIn(
        await new LoginGuardApi().signIn({
          username: form.get("username"),
          password: form.get("password"),
          device: form.get("device"),
        }),
      );
    } catch (err) {
      setError(err.message);
    }
  }
  return (
    <form onSubmit={submit}>
      <label>
        User name <input name="username" autoComplete="username" required />
      </label>
      <label>
        Password <input name="password" type="password" autoComplete="current-password" required />
      </label>
      <label>
        Device <input name="device" defaultValue={guessDeviceName()} maxLength={64} />
      </label>
      {error && <p role="alert">{error}</p>}
      <button type="submit">Sign in</button>
    </form>
  );
}

function Sessions({ api, version }) {
  const [sessions, setSessions] = useState([]);
  useEffect(() => {
    let live = true;
    api.sessions().then((list) => live && setSessions(list), () => {});
    return () => {
      live = false;
    };
  }, [api, version]);
  return (
    <ul>
      {sessions.map((s) => (
        <li key={s.session_id}>
          {s.device} ({s.ip}), signed in {new Date(s.created_at).toLocaleString()}, {s.connections} connection(s)
          {s.current ? " (this device) " : " "}
          {!s.current && <button onClick={() => api.revokeSession(s.session_id)}>Sign out</button>}
        </li>
      ))}
    </ul>
  );
}

/** A modal <dialog>: the page behind it is inert until "Sign in again". */
function Kicked({ text, onSignInAgain }) {
  const ref = useRef(null);
  useEffect(() => {
    const dialog = ref.current;
    dialog.showModal();
    return () => dialog.close();
  }, []);
  return (
    <dialog ref={ref} aria-labelledby="kicked-title" onCancel={(e) => e.preventDefault()}>
      <h2 id="kicked-title">You were signed out</h2>
      <p>{text}</p>
      <button autoFocus onClick={onSignInAgain}>
        Sign in again
      </button>
    </dialog>
  );
}
