// Sign-in. Through SAP's application router the router holds the session and adds the token itself (we only fetch
// its CSRF token for writes). Opened on the API directly, the app signs in as an OAuth public client: authorization
// code with PKCE (S256) against the identity provider in config.json (XSUAA, or the development one), tokens kept
// in sessionStorage (this tab only), the refresh token rotated on every use and revoked on sign-out.

const TOKENS = "sapext.tokens";
const PENDING = "sapext.pkce";
const LAST_USER = "sapext.user";
const appUrl = () => new URL("./", location.href).href;

export const apiUrl = (path) => new URL(`../api/v1/${path}`, location.href).href;

// Fetched when first needed: a signed-in tab that starts offline never needs it.
let configuration;
export function config() {
  configuration ??= fetch("config.json").then((response) => response.json()).catch((error) => {
    configuration = null; // offline now: ask again next time
    throw error;
  });
  return configuration;
}

function base64url(bytes) {
  return btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function randomString() {
  return base64url(crypto.getRandomValues(new Uint8Array(32)));
}

async function postForm(url, fields) {
  const response = await fetch(url, { method: "POST", body: new URLSearchParams(fields), credentials: "same-origin",
    headers: { Accept: "application/json" } });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.error_description || body.error || `sign-in failed (${response.status})`);
  return body;
}

class RouterSession {
  mode = "router";
  readOnly = false;
  csrf = null;

  async headers(write) {
    if (write && !this.csrf) {
      const response = await fetch(apiUrl("me"), { headers: { "X-CSRF-Token": "Fetch" }, credentials: "same-origin" });
      this.csrf = response.headers.get("X-CSRF-Token");
    }
    return write && this.csrf ? { "X-CSRF-Token": this.csrf } : {};
  }

  /** After a 403 from the router: a stale CSRF token; a new one is fetched on the next write. */
  async renewCsrf() {
    this.csrf = null;
    return true;
  }

  async renew() {
    return false; // the router's session is over: only a new sign-in (a reload) helps
  }

  signOut() {
    location.assign(new URL("../do/logout", location.href).href);
  }
}

class OAuthSession {
  mode = "oauth";
  readOnly = false;

  constructor(tokens) {
    this.tokens = tokens;
  }

  async headers() {
    if (Date.now() > this.tokens.expires_at - 30_000) {
      // Offline the old token goes out as it is: the service worker's saved copy answers the read, and a write
      // stays queued until the refresh can happen.
      await this.renew().catch(() => {});
    }
    return { Authorization: `Bearer ${this.tokens.access_token}` };
  }

  /**
   * A new access token from the refresh token; false when the session is over (sign in again). One at a time:
   * a refresh token is single-use, and presenting it twice revokes the whole session (reuse detection).
   */
  renew() {
    this.renewing ??= this.refresh().finally(() => (this.renewing = null));
    return this.renewing;
  }

  async refresh() {
    if (!this.tokens.refresh_token) return false;
    const { token_endpoint: url, client_id: clientId } = await config();
    try {
      this.tokens = stored(await postForm(url, {
        grant_type: "refresh_token", refresh_token: this.tokens.refresh_token, client_id: clientId,
      }));
      return true;
    } catch (error) {
      if (error instanceof TypeError) throw error; // offline: keep the tokens, try again later
      sessionStorage.removeItem(TOKENS);
      return false;
    }
  }

  async signOut() {
    const { refresh_token: token } = this.tokens;
    sessionStorage.removeItem(TOKENS);
    const { revocation_endpoint: revoke, end_session_endpoint: endSession, client_id: clientId } = await config();
    if (token) await postForm(revoke, { token, token_type_hint: "refresh_token", client_id: clientId }).catch(() => {});
    const logout = new URL(endSession);
    logout.searchParams.set("redirect", appUrl());
    location.assign(logout.href);
  }
}

/** Opened without a network by the last user of this device: their saved screens, to read only. Nobody signed
 * in here, so nobody may act in their name (on a shared device, the next person); connect to sign in. */
class OfflineSession {
  mode = "offline";
  readOnly = true;

  constructor(user) {
    this.user = user;
  }

  async headers() {
    return {};
  }

  async renew() {
    return false;
  }

  signOut() {
    location.reload();
  }
}

/** Who used the app last on this device (no token, just the name): whose saved screens an offline start shows. */
export function remember(user) {
  localStorage.setItem(LAST_USER, user);
}

export const lastUser = () => localStorage.getItem(LAST_USER);

export function forget() {
  localStorage.removeItem(LAST_USER);
}

function stored(body) {
  const tokens = { access_token: body.access_token, refresh_token: body.refresh_token,
    expires_at: Date.now() + (body.expires_in ?? 300) * 1000 };
  sessionStorage.setItem(TOKENS, JSON.stringify(tokens));
  return tokens;
}

async function redirectToSignIn(config) {
  const verifier = randomString();
  const state = randomString();
  sessionStorage.setItem(PENDING, JSON.stringify({ verifier, state, back: location.hash }));
  const challenge = base64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  const url = new URL(config.authorization_endpoint);
  url.search = new URLSearchParams({ response_type: "code", client_id: config.client_id, redirect_uri: appUrl(),
    state, code_challenge: challenge, code_challenge_method: "S256" }).toString();
  location.assign(url.href);
  return new Promise(() => {}); // the page is leaving
}

async function redeem(config, params) {
  const pending = JSON.parse(sessionStorage.getItem(PENDING) || "null");
  sessionStorage.removeItem(PENDING);
  history.replaceState(null, "", appUrl() + (pending?.back || ""));
  // The state first: an answer this tab did not ask for (a crafted link) shows none of its text.
  if (!pending || pending.state !== params.get("state")) throw new Error("sign-in answer does not match the request: sign in again");
  if (params.get("error")) throw new Error(`sign-in refused: ${params.get("error_description") || params.get("error")}`);
  return stored(await postForm(config.token_endpoint, { grant_type: "authorization_code", code: params.get("code"),
    redirect_uri: appUrl(), client_id: config.client_id, code_verifier: pending.verifier }));
}

/**
 * The session this page runs in. Resolves once signed in; redirects to the identity provider when needed.
 * Offline with no session yet, it rejects with a TypeError (the caller says "connect to sign in").
 */
export async function signIn() {
  const params = new URLSearchParams(location.search);
  if (params.has("code") || params.has("error")) return new OAuthSession(await redeem(await config(), params));
  const tokens = JSON.parse(sessionStorage.getItem(TOKENS) || "null");
  if (tokens) return new OAuthSession(tokens);
  // No token of ours: behind the application router the API answers with the router's session. no-store: only
  // the API itself may say so, never the service worker's saved copy.
  let probe;
  try {
    probe = await fetch(apiUrl("me"), { headers: { "X-CSRF-Token": "Fetch" }, credentials: "same-origin", cache: "no-store" });
  } catch (error) {
    const last = lastUser();
    if (last) return new OfflineSession(last); // an installed app opened without a network: the saved screens
    throw error;
  }
  if (probe.ok) {
    const session = new RouterSession();
    session.csrf = probe.headers.get("X-CSRF-Token");
    return session;
  }
  return redirectToSignIn(await config());
}
