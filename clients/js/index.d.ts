// Types of loginguard-client (index.js). Describes the public API only; keep
// it in step with index.js and with PROTOCOL.md's message shapes. Must not
// declare anything index.js does not export.

export type ConnectionState = "connecting" | "online" | "reconnecting" | "offline";

export interface CloseCodeInfo {
  readonly name: string;
  /** The short reason the server sends with this code. */
  readonly reason: string;
  /** Whether the client reconnects after it (false: terminal for this token). */
  readonly reconnect: boolean;
  /** When the server sends it, in one sentence. */
  readonly meaning: string;
}

export declare const CLOSE_CODES: Readonly<Record<1001 | 1003 | 1007 | 1008 | 1009 | 1012 | 1013 | 4001 | 4003 | 4008, CloseCodeInfo>>;
export declare const CloseCode: Readonly<{
  REVOKED: 4001;
  UNAUTHORIZED: 4003;
  AUTH_TIMEOUT: 4008;
  UNSUPPORTED_DATA: 1003;
  INVALID_DATA: 1007;
  TOO_MANY_SOCKETS: 1008;
  TOO_BIG: 1009;
  RESTARTING: 1012;
  TRY_AGAIN_LATER: 1013;
  IDLE: 1001;
}>;
export declare const STATES: readonly ConnectionState[];

export interface BackoffOptions {
  /** First wait in ms (default 500). */
  initial?: number;
  /** Longest wait in ms (default 30000). */
  max?: number;
  /** Growth per attempt (default 2). */
  factor?: number;
  /** Up to this share of each wait is taken off at random, 0..1 (default 0.5). */
  jitter?: number;
}

export declare function shouldReconnect(code: number): boolean;
export declare function backoffDelay(attempt: number, backoff?: BackoffOptions, random?: () => number): number;
export declare function defaultSocketUrl(loc?: { protocol: string; host: string }): string;

/** `by`: the device that caused an event. */
export interface Actor {
  device: string;
  ip: string;
  /** RFC 3339, UTC. */
  at: string;
}

export type RevocationReason =
  | "duplicate_login"
  | "logout"
  | "revoked_by_user"
  | "revoked_by_admin"
  | "expired"
  | "password_changed"
  | "account_removed"
  | "revoked_by_app"
  | "replaced";

export interface AuthOkMessage {
  type: "auth_ok";
  session_id: string;
  username: string;
  server_time: string;
}

export interface ForceLogoutMessage {
  type: "force_logout";
  reason: RevocationReason;
  session_id: string;
  message: string;
  by: Actor | null;
  at: string;
}

export interface LoginBlockedMessage {
  type: "login_blocked";
  by: Actor;
}

export interface SessionsChangedMessage {
  type: "sessions_changed";
}

export interface PongMessage {
  type: "pong";
  server_time: string;
}

export interface ServerErrorMessage {
  type: "error";
  code: string;
}

export interface DisconnectInfo {
  code: number;
  reason: string;
  /** Whether a reconnect is scheduled. */
  reconnect: boolean;
  /** The wait before it in ms, or null. */
  delay: number | null;
}

export interface LoginGuardEvents {
  stateChange: { state: ConnectionState; previous: ConnectionState };
  authenticated: AuthOkMessage;
  forceLogout: ForceLogoutMessage;
  loginBlocked: LoginBlockedMessage;
  sessionsChanged: SessionsChangedMessage;
  pong: PongMessage;
  serverError: ServerErrorMessage;
  disconnect: DisconnectInfo;
}

interface LoginGuardClientCommonOptions {
  /** e.g. "wss://example.org/ws"; defaults to the page's origin + /ws. */
  url?: string;
  /** A WebSocket constructor; defaults to globalThis.WebSocket. */
  WebSocket?: new (url: string) => WebSocket | any;
  /** ms between JSON pings while online (default 25000). */
  pingInterval?: number;
  /** ms allowed from opening to `auth_ok` (default 10000). */
  connectTimeout?: number;
  backoff?: BackoffOptions;
  /** A [0, 1) random source (tests). */
  random?: () => number;
}

/**
 * Either the bearer token from sign-in, or `cookie: true`: authenticate with
 * the cookie the browser sends with the upgrade (loginguard's `--cookie`
 * mode, the page's origin in `--allowed-origins`).
 */
export type LoginGuardClientOptions = LoginGuardClientCommonOptions &
  ({ token: string; cookie?: false } | { cookie: true; token?: undefined });

export declare class LoginGuardClient {
  constructor(options: LoginGuardClientOptions);
  readonly state: ConnectionState;
  /** The `auth_ok` of the current connection, or null. */
  readonly session: AuthOkMessage | null;
  on<K extends keyof LoginGuardEvents>(event: K, listener: (payload: LoginGuardEvents[K]) => void): () => void;
  off<K extends keyof LoginGuardEvents>(event: K, listener: (payload: LoginGuardEvents[K]) => void): void;
  connect(): this;
  close(): void;
}

export interface User {
  username: string;
  name: string;
  is_admin: boolean;
}

export interface SessionInfo {
  session_id: string;
  user: User;
  device: string;
  /** `web`, `mobile`, or a class a trusted backend named. */
  device_class: string;
  /** What created it: a password sign-in, or a trusted backend (`/api/v1`). */
  origin: "password" | "backend";
  ip: string;
  created_at: string;
  last_seen_at: string;
  expires_at: string;
}

export interface ListedSession extends SessionInfo {
  current: boolean;
  connections: number;
}

export interface AdminSession extends SessionInfo {
  username: string;
  connections: number;
}

export interface SignInResult {
  session_id: string;
  token: string;
  token_type: "Bearer";
  user: User;
  created_at: string;
  expires_at: string;
  /** The new session as the lists show it (with `device_class`). */
  session: SessionInfo;
  revoked_sessions: { session_id: string; device: string }[];
  /** Kept per account by `LoginGuardApi` and sent with its next sign-in; not a credential. */
  device_token: string;
}

export interface SignedInOutcome extends SignInResult {
  outcome: "signed_in";
}

/** A session offered for sign-out by an `ask` refusal (never a token). */
export interface EvictionChoice {
  session_id: string;
  device: string;
  device_class: string;
  ip: string;
  created_at: string;
  last_seen_at: string;
}

export interface ChooseOutcome {
  outcome: "choose";
  choices: EvictionChoice[];
  /** RFC 3339: the ticket behind `evict` works once, until then. */
  ticketExpiresAt: string;
  /** Signs `sessionId` (one of `choices`) out and this device in. */
  evict(sessionId: string): Promise<SignedInOutcome>;
}

export interface AdminPage {
  sessions: AdminSession[];
  count: number;
  next_cursor: string | null;
  generated_at: string;
}

/** One entry of the audit trail (`GET /api/admin/audit`). */
export interface AuditEntry {
  id: string;
  at: string;
  type: "signed_in" | "sign_in_failed" | "denied" | "signed_out" | "revoked" | "expired";
  username: string;
  session_id: string | null;
  device: string | null;
  ip: string | null;
  reason: string | null;
  by: { device: string; ip: string; at: string } | null;
  instance: string;
}

export type OnLimit = "kick_oldest" | "deny_new" | "ask";

/** A runtime policy override: only the fields an administrator set. */
export interface PolicyOverride {
  max_sessions?: number;
  on_limit?: OnLimit;
  /** Device class -> its limit; `{}` lifts the configured class limits. */
  class_limits?: Record<string, number>;
}

/** `GET /api/admin/users/{username}/policy`. */
export interface AccountPolicy {
  username: string;
  override: PolicyOverride | null;
  /** What the next sign-in gets: override > users file > flags. */
  effective: { max_sessions: number; on_limit: OnLimit; class_limits: Record<string, number> };
}

export interface AuditPage {
  entries: AuditEntry[];
  next_cursor: string | null;
}

export declare class LoginGuardError extends Error {
  constructor(status: number, body: unknown);
  /** HTTP status, or 0 when the server could not be reached. */
  readonly status: number;
  /** Stable code: "invalid_credentials", "session_limit_reached", "network_error", ... */
  readonly code: string;
  /** The whole `error` object, with optional fields such as `active_sessions`. */
  readonly details: Record<string, any>;
}

export interface LoginGuardApiOptions {
  /** e.g. "https://example.org"; defaults to the page's origin. */
  baseUrl?: string;
  token?: string | null;
  fetch?: typeof fetch;
  /** Where each account's device token is kept; defaults to localStorage, or memory. */
  deviceTokens?: DeviceTokenStore;
}

/** The part of the Web Storage API that keeping device tokens needs. */
export interface DeviceTokenStore {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/** A public demo account, listed only when the server runs without a users file. */
export interface DemoAccount {
  username: string;
  password: string;
  is_admin: boolean;
}

export declare class LoginGuardApi {
  constructor(options?: LoginGuardApiOptions);
  /** The storage key of `username`'s device token: "loginguard.device.<username>". */
  static deviceTokenKey(username: string): string;
  /** The storage key of this browser's device id: "loginguard.device_id". */
  static readonly deviceIdKey: string;
  baseUrl: string;
  token: string | null;
  socketUrl(): string;
  /** This browser's device id (kept, or made and kept now); sent with every sign-in. */
  deviceId(): string;
  /** Resolves to the sign-in answer, or (under `on_limit = ask`, at the limit) to a choice of a session to sign out. */
  signIn(credentials: { username: string; password: string; device?: string; deviceClass?: string }): Promise<SignedInOutcome | ChooseOutcome>;
  signOut(): Promise<void>;
  session(): Promise<SessionInfo>;
  sessions(): Promise<ListedSession[]>;
  revokeSession(sessionId: string): Promise<void>;
  demoAccounts(): Promise<DemoAccount[]>;
  adminSessions(page?: { cursor?: string | null; limit?: number }): Promise<AdminPage>;
  adminAudit(page?: { cursor?: string | null; limit?: number; username?: string }): Promise<AuditPage>;
  adminSignOutUser(username: string): Promise<{ revoked: number }>;
  adminPolicy(username: string): Promise<AccountPolicy>;
  adminSetPolicy(username: string, policy: PolicyOverride): Promise<AccountPolicy>;
  adminRemovePolicy(username: string): Promise<void>;
}

export declare function describeForceLogout(
  msg: Pick<ForceLogoutMessage, "reason" | "by" | "at"> & { message?: string },
  options?: { username?: string; locale?: string; timeZone?: string },
): string;

export declare function guessDeviceName(userAgent?: string): string;

/** A fresh random device id (22 base64url characters). */
export declare function newDeviceId(): string;
