// What the holder's page (web/app.js) and the Office's page (web/agent/agent.js) share: the
// call to the API, the OpenID Connect client, escaping for HTML, reading a token's expiry.
// Served at /common.js; both pages import it by that address.

/** Text made safe to put in HTML (element content and quoted attributes). */
export const escape = (s) =>
  String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

/**
 * A function `call(method, path, body)` to the API of `state.config.api`, with `state.token`
 * (when there is one) and `state.lang`, read at each call. It answers
 * `{ status, body, retryAfter? }`: status 0 (`code: "network"`) when the API could not be
 * reached; the body `{}` when the answer is not JSON.
 *
 * - `refuseNonJson`: a success whose body is not JSON (an HTML page, where a path went somewhere
 *   else) is no answer: status 502, `code: "not_json"`.
 * - `readRetryAfter`: `retryAfter`, in seconds, from the `Retry-After` header (or the body's
 *   `retryAfter`).
 */
export function apiClient(state, { refuseNonJson = false, readRetryAfter = false } = {}) {
  return async function call(method, path, body) {
    const headers = { accept: "application/json", "accept-language": state.lang };
    if (state.token) headers.authorization = `Bearer ${state.token}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    let response;
    try {
      response = await fetch(`${state.config.api}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch {
      return { status: 0, body: { code: "network" } };
    }
    const json = await response.json().catch(() => null);
    if (json === null && response.ok && refuseNonJson) return { status: 502, body: { code: "not_json" } };
    const answer = { status: response.status, body: json ?? {} };
    if (readRetryAfter) answer.retryAfter = Number(response.headers.get("retry-after")) || answer.body.retryAfter;
    return answer;
  };
}

/** The oidc-client-ts UserManager of `config.oidc` (the library is loaded on first use). */
export async function oidcManager(config) {
  if (!window.oidc) {
    await new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = "/vendor/oidc-client-ts.min.js";
      script.onload = resolve;
      script.onerror = reject;
      document.head.append(script);
    });
  }
  const o = config.oidc;
  return new window.oidc.UserManager({
    authority: o.authority,
    client_id: o.client_id,
    redirect_uri: o.redirect_uri,
    response_type: "code", // Authorization Code; the library adds PKCE (S256) itself
    scope: o.scope || "openid",
    userStore: new window.oidc.WebStorageStateStore({ store: window.sessionStorage }),
  });
}

/** Whether the token's `exp` has passed (read, not verified: only to choose a sentence). */
export function expired(token) {
  try {
    const payload = JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
    return typeof payload.exp === "number" && payload.exp * 1000 <= Date.now();
  } catch {
    return true;
  }
}
