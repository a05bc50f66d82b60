// The shop's page script: keeps a socket to loginguard open while the page
// is shown, authenticated by the HttpOnly cookie the browser sends with the
// upgrade (this script never sees the token), and tells the user at once
// when another device has taken the account. It does not navigate: the next
// request through nginx is refused anyway.
import { LoginGuardClient, describeForceLogout } from "/client/loginguard-client.js";

const status = document.getElementById("lg-status");
const message = document.getElementById("lg-message");
const messageText = document.getElementById("lg-message-text");

const LABELS = {
  connecting: "Connecting…",
  online: "Live: you will be told at once if this account signs in elsewhere.",
  reconnecting: "Connection lost; reconnecting…",
  offline: "Not connected.",
};

const client = new LoginGuardClient({ cookie: true });
client.on("stateChange", ({ state }) => {
  status.dataset.state = state;
  status.textContent = LABELS[state];
});
client.on("forceLogout", (msg) => {
  messageText.textContent =
    msg.reason === "duplicate_login" && msg.by
      ? `You were signed out: ${msg.by.device} signed in (${msg.by.ip}).`
      : describeForceLogout(msg);
  message.hidden = false;
});
client.connect();
