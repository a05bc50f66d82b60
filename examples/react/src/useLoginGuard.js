// useLoginGuard: a React hook over loginguard-client. It owns one
// LoginGuardClient per token (created in an effect, closed on cleanup or
// when the token changes) and exposes its state as React state. It must not
// store the token itself; the caller decides where the token lives.

import { useEffect, useRef, useState } from "react";
import { LoginGuardClient } from "loginguard-client";

/**
 * @param {string|null} token the session token, or null when signed out
 * @param {object} [options] {url, pingInterval, onForceLogout}
 * @returns {{state: string, kicked: object|null, blocked: object|null,
 *   sessionsVersion: number, dismissBlocked: () => void}}
 *   `sessionsVersion` grows on every `sessions_changed` and reconnect: use it
 *   as an effect dependency to refetch the session list.
 */
export function useLoginGuard(token, { url, pingInterval, onForceLogout } = {}) {
  const [state, setState] = useState("offline");
  const [kicked, setKicked] = useState(null);
  const [blocked, setBlocked] = useState(null);
  const [sessionsVersion, setSessionsVersion] = useState(0);
  // The latest callback, without reconnecting when it changes identity.
  const onForceLogoutRef = useRef(onForceLogout);
  useEffect(() => {
    onForceLogoutRef.current = onForceLogout;
  }, [onForceLogout]);

  useEffect(() => {
    if (!token) {
      setState("offline");
      return undefined;
    }
    setKicked(null);
    setBlocked(null);
    const client = new LoginGuardClient({ token, url, pingInterval });
    const bump = () => setSessionsVersion((v) => v + 1);
    const unsubscribe = [
      client.on("stateChange", ({ state: next }) => setState(next)),
      client.on("authenticated", bump),
      client.on("sessionsChanged", bump),
      client.on("loginBlocked", setBlocked),
      client.on("forceLogout", (msg) => {
        setKicked(msg);
        onForceLogoutRef.current?.(msg);
      }),
    ];
    client.connect();
    return () => {
      for (const off of unsubscribe) off();
      client.close();
    };
  }, [token, url, pingInterval]);

  return { state, kicked, blocked, sessionsVersion, dismissBlocked: () => setBlocked(null) };
}
