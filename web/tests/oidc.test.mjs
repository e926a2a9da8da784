// Both sign-ins, for real: panva's oidc-provider on loopback as the government authentication
// service (citizen issuer) and as the Office's staff directory (staff issuer, with a `roles`
// claim); the local API verifying their ID tokens through CITIZEN_JWKS_URL / STAFF_JWKS_URL
// (plain http to loopback), both pages in `oidc` mode. A holder signs in with Authorization
// Code + PKCE and links; an employee signs in and resolves; a token of an issuer the API does
// not trust, an expired session and a key rotation at the provider each behave as a person
// expects.

import { test, before } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { generateKeyPairSync, createSign, randomUUID } from "node:crypto";
import { writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import http from "node:http";
import Provider from "oidc-provider";
import { SHOTS, useBrowser, newPage as openPage, accessible, codeOf } from "./browser.mjs";

const LOCAL_API = process.env.LOCAL_API_BIN;
assert.ok(LOCAL_API, "LOCAL_API_BIN is set by scripts/web-tests.sh");

const freePort = () => new Promise((resolve) => {
  const server = createServer();
  server.listen(0, "127.0.0.1", () => { const { port } = server.address(); server.close(() => resolve(port)); });
});

function rsaKey() {
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  return { ...privateKey.export({ format: "jwk" }), kid: randomUUID(), use: "sig", alg: "RS256" };
}

/** An OpenID provider on 127.0.0.1:port: any login works (its development interactions). */
function startProvider({ port, name, clientId, redirectUri, roles, key, idTokenTtl = 600 }) {
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients: [{
      client_id: clientId,
      redirect_uris: [redirectUri],
      post_logout_redirect_uris: [redirectUri], // the page, back from a sign-out
      response_types: ["code"],
      grant_types: ["authorization_code"],
      token_endpoint_auth_method: "none",
    }],
    jwks: { keys: [key] },
    scopes: ["openid", "roles"],
    claims: { openid: ["sub"], roles: ["roles"] },
    conformIdTokenClaims: false, // the claims in the ID token, which is what the API checks
    findAccount: async (_ctx, id) => ({ accountId: id, claims: async () => ({ sub: id, ...(roles ? { roles } : {}) }) }),
    pkce: { methods: ["S256"], required: () => true },
    ttl: { IdToken: idTokenTtl, AccessToken: 600, Session: 3600, Interaction: 600, Grant: 3600, AuthorizationCode: 60 },
    cookies: { keys: [randomUUID()], names: { session: `${name}_session`, interaction: `${name}_interaction`, resume: `${name}_resume` } },
    clientBasedCORS: () => true,
    features: { devInteractions: { enabled: true } },
  });
  const handle = provider.callback();
  const server = http.createServer((request, response) => {
    if (request.url.startsWith("/jwks")) jwksFetchedAt[name] = Date.now();
    handle(request, response);
  });
  return new Promise((resolve) => server.listen(port, "127.0.0.1", () => resolve({ issuer, server, stop: () => new Promise((r) => { server.closeAllConnections?.(); server.close(r); }) })));
}

/** A signed token of an issuer nobody trusts, shaped like the staff one. */
function foreignToken(audience) {
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
  const now = Math.floor(Date.now() / 1000);
  const body = `${b64({ alg: "RS256", kid: "foreign", typ: "JWT" })}.${b64({ iss: "http://127.0.0.1:9/", aud: audience, sub: "intrus", roles: ["agent"], iat: now, exp: now + 600 })}`;
  return `${body}.${createSign("RSA-SHA256").update(body).sign(privateKey).toString("base64url")}`;
}

let api; // { base, process }
let citizen;
let staff;
const ports = {};
const keys = { citizen: rsaKey(), staff: rsaKey() };
const jwksFetchedAt = {}; // when the API last read each issuer's keys

async function startStaff(options = {}) {
  staff = await startProvider({ port: ports.staff, name: "staff", clientId: "office-page", redirectUri: `${api.base}/agent/`,
    roles: ["agent"], key: keys.staff, ...options });
}

useBrowser("axe (OpenID Connect sign-ins)", {
  after: async () => {
    api?.process?.kill();
    await citizen?.stop();
    await staff?.stop();
  },
});

before(async () => {
  ports.api = await freePort();
  ports.citizen = await freePort();
  ports.staff = await freePort();
  api = { base: `http://127.0.0.1:${ports.api}` };
  citizen = await startProvider({ port: ports.citizen, name: "citizen", clientId: "holder-page", redirectUri: `${api.base}/`, key: keys.citizen });
  await startStaff();
  const dir = mkdtempSync(join(tmpdir(), "oidc-pages-"));
  const config = (issuer, clientId, redirect, scope) =>
    JSON.stringify({ mode: "oidc", api: "", oidc: { authority: issuer, client_id: clientId, redirect_uri: redirect, scope } });
  writeFileSync(join(dir, "holder.json"), config(citizen.issuer, "holder-page", `${api.base}/`, "openid"));
  writeFileSync(join(dir, "agent.json"), config(staff.issuer, "office-page", `${api.base}/agent/`, "openid roles"));
  const env = {
    ...process.env,
    CITIZEN_ISSUER: citizen.issuer, CITIZEN_AUDIENCE: "holder-page", CITIZEN_JWKS_URL: `${citizen.issuer}/jwks`,
    STAFF_ISSUER: staff.issuer, STAFF_AUDIENCE: "office-page", STAFF_JWKS_URL: `${staff.issuer}/jwks`,
  };
  process.on("exit", () => api.process?.kill());
  api.process = spawn(LOCAL_API, ["--port", String(ports.api), "--issuers-from-env", "--web-config", join(dir, "holder.json"),
    "--agent-web-config", join(dir, "agent.json")], { env, stdio: ["ignore", "ignore", "inherit"] });
  for (let i = 0; i < 100; i++) {
    try { if ((await fetch(`${api.base}/config.json`)).ok) break; } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
});

const newPage = (path) => openPage(`${api.base}${path}`);

async function shotIn(page, name) {
  const lang = await page.evaluate(() => document.documentElement.lang);
  await accessible(page, `${name} (${lang})`);
  await page.screenshot({ path: `${SHOTS}/${name}-${lang}.png`, fullPage: true });
}

/** axe and a screenshot in French, then in English, then back to French. */
async function shot(page, name) {
  await shotIn(page, name);
  await page.click("#language-toggle");
  await shotIn(page, name);
  await page.click("#language-toggle");
}

/** The provider's own pages: any login, then consent when it asks. */
async function providerSignIn(page, login, issuer) {
  await page.waitForURL((url) => url.href.startsWith(issuer));
  await page.fill("input[name=login]", login);
  await page.fill("input[name=password]", "anything");
  await page.click("button[type=submit]");
  for (let i = 0; i < 3 && new URL(page.url()).origin === issuer; i++) {
    await page.waitForLoadState();
    if (new URL(page.url()).origin !== issuer) break;
    const submit = page.locator("button[type=submit]");
    if (await submit.count()) await submit.first().click();
  }
  await page.waitForURL((url) => url.href.startsWith(api.base));
}

test("the holder signs in at the citizen issuer with Code + PKCE and links", async () => {
  const page = await newPage("/");
  await page.waitForSelector("#sign-in");
  assert.equal(await page.locator("#dev-subject").count(), 0, "no development sign-in in oidc mode");
  assert.equal(await page.textContent("#sign-in button[type=submit]"), "Se connecter");
  const authRequest = page.waitForRequest((r) => r.url().startsWith(`${citizen.issuer}/auth`));
  await page.click("#sign-in button[type=submit]");
  const authorize = new URL((await authRequest).url());
  assert.equal(authorize.searchParams.get("code_challenge_method"), "S256", "PKCE");
  assert.equal(authorize.searchParams.get("response_type"), "code");
  await providerSignIn(page, "titulaire-oidc", citizen.issuer);
  await page.waitForSelector("#lookup");
  assert.doesNotMatch(page.url(), /code=/, "the code leaves the address");
  await shot(page, "oidc-1-holder-signed-in");
  await page.fill("#certificate-number", "AG-100001");
  await page.fill("#date-of-birth", "1980-02-29");
  await page.click("#lookup button[type=submit]");
  await page.waitForSelector("#verify");
  const emails = await (await fetch(`${api.base}/dev/outbox`)).json();
  await page.fill("#code", codeOf(emails.filter((e) => e.to === "jeanne.tremblay@exemple.ca").at(-1)));
  await page.click("#verify button[type=submit]");
  await page.waitForSelector(".summary");
  assert.match(await page.textContent(".summary"), /AG100001/);
  await shot(page, "oidc-2-holder-linked");
  // Just signed in with a token of an issuer the API does not trust: what to do, not a loop.
  await page.evaluate((t) => sessionStorage.setItem("recovery.token", t), foreignToken("holder-page"));
  await page.reload();
  await page.waitForSelector("[role=alert]");
  assert.match(await page.textContent("[role=alert]"), /Le service n’a pas accepté votre connexion.*communiquez avec l’Office/);
  await shot(page, "oidc-2b-holder-foreign-issuer");
  await page.context().close();
});

test("an employee signs in at the staff issuer and resolves a request", async () => {
  // A holder files a request (signed in at the citizen issuer, the token read by the page).
  const holder = await newPage("/");
  await holder.click("#sign-in button[type=submit]");
  await providerSignIn(holder, "titulaire-aide", citizen.issuer);
  await holder.fill("#certificate-number", "AG-100003");
  await holder.fill("#date-of-birth", "1990-11-02");
  await holder.click("#lookup button[type=submit]");
  await holder.click("[data-go=assistance]");
  await holder.click("#assistance button[type=submit]");
  await holder.waitForSelector(".success");
  const reference = (await holder.textContent(".success strong")).trim();
  const citizenToken = await holder.evaluate(() => sessionStorage.getItem("recovery.token"));
  await holder.context().close();

  const page = await newPage("/agent/");
  await page.waitForSelector("#sign-in");
  assert.equal(await page.locator("#dev-subject").count(), 0);
  await page.click("#sign-in button[type=submit]");
  await providerSignIn(page, "employe-oidc", staff.issuer);
  await page.waitForSelector("ol.queue");
  await shot(page, "oidc-3-employee-queue");
  await page.click(`a[href="#/request/${reference}"]`);
  await page.check("input[name=outcome][value=email_updated]");
  await page.fill("#new-email", "lea.cote@example.org");
  await page.fill("#new-email-again", "lea.cote@example.org");
  await page.click("#resolve button[type=submit]");
  await page.click("#confirm-change");
  await page.waitForSelector("#flash");
  assert.match(await page.textContent("#flash"), new RegExp(`${reference} fermée`));
  await page.goto(`${api.base}/agent/#/audit/AG100003`);
  await page.waitForSelector("#audit-events");
  assert.match(await page.textContent("#audit-events"), /Employé employe-oidc/, "the employee is the staff issuer's subject");
  await shot(page, "oidc-4-employee-resolved");

  // A holder's token (the citizen issuer's) on the Office's page: refused with a sentence.
  await page.evaluate((t) => sessionStorage.setItem("agent.token", t), citizenToken);
  await page.goto(`${api.base}/agent/`);
  await page.waitForSelector("[role=alert]");
  assert.match(await page.textContent("[role=alert]"), /Ce compte n’a pas accès aux demandes d’aide/);
  // Just signed in with a token of an issuer the API does not trust (a page pointed at the
  // wrong directory, say): not "your session ended" but what to do when it persists.
  await page.evaluate((t) => sessionStorage.setItem("agent.token", t), foreignToken("office-page"));
  await page.reload();
  await page.waitForSelector("#sign-in");
  assert.match(await page.textContent("[role=alert]"), /Le service n’a pas accepté votre connexion.*communiquez avec le soutien informatique/);
  await shot(page, "oidc-5-foreign-issuer");
  await page.context().close();
});

test("an expired session asks the employee to sign in again, and that works", async () => {
  await staff.stop();
  await startStaff({ idTokenTtl: 1 });
  const page = await newPage("/agent/");
  await page.click("#sign-in button[type=submit]");
  await providerSignIn(page, "employe-expire", staff.issuer);
  await page.waitForSelector("#queue-refresh");
  // The API allows 30 s of clock skew: past that, the token is refused.
  await new Promise((r) => setTimeout(r, 33_000));
  await page.click("#queue-refresh");
  await page.waitForSelector("#sign-in");
  assert.match(await page.textContent("[role=alert]"), /Votre session a pris fin. Connectez-vous de nouveau/);
  await shot(page, "oidc-6-session-expired");
  await page.click("#sign-in button[type=submit]");
  // Still signed in at the provider: straight back, with a new token.
  await page.waitForURL((url) => url.href.startsWith(api.base) && !url.href.includes("code="), { timeout: 15_000 }).catch(() => {});
  if (new URL(page.url()).origin === staff.issuer) await providerSignIn(page, "employe-expire", staff.issuer);
  await page.waitForSelector("#queue-refresh");
  assert.equal(await page.locator("[role=alert]").count(), 0);
  await page.context().close();
  await staff.stop();
  await startStaff();
});

test("a key rotation at the staff issuer: sign-ins work again once the API reads the new keys", async () => {
  await staff.stop();
  keys.staff = rsaKey(); // a new kid the API has never seen
  await startStaff();
  const page = await newPage("/agent/");
  await page.click("#sign-in button[type=submit]");
  await providerSignIn(page, "employe-rotation", staff.issuer);
  await page.waitForSelector("ol.queue, .empty, [role=alert]");
  const sinceFetch = Date.now() - (jwksFetchedAt.staff ?? 0);
  if (await page.locator("[role=alert]").count()) {
    // The API reads an issuer's keys at most once a minute (an unknown kid must not let anyone
    // hammer the issuer): within that minute the new key is unknown and the token refused.
    assert.ok(sinceFetch < 60_000, `refused ${sinceFetch} ms after the last key fetch`);
    assert.match(await page.textContent("[role=alert]"), /Le service n’a pas accepté votre connexion. Attendez une minute, puis connectez-vous de nouveau/);
    await shot(page, "oidc-7-key-rotation-refused");
    await new Promise((r) => setTimeout(r, 61_000 - sinceFetch));
    await page.click("#sign-in button[type=submit]");
    await page.waitForURL((url) => url.href.startsWith(api.base) && !url.href.includes("code="), { timeout: 15_000 }).catch(() => {});
    if (new URL(page.url()).origin === staff.issuer) await providerSignIn(page, "employe-rotation", staff.issuer);
    // Not the refusal's alert: it is still on the page until the redirect to the directory
    // begins, and waitForURL above can resolve before it does.
    await page.waitForSelector("ol.queue, .empty");
  }
  assert.equal(await page.locator("[role=alert]").count(), 0, "signed in with a token of the new key");
  assert.ok(Date.now() - jwksFetchedAt.staff < 120_000, "the API read the new keys");
  await shot(page, "oidc-8-key-rotation-signed-in");
  await page.context().close();
});

test("a refusal by the provider (?error=…) shows the sign-in sentence on both pages, and leaves the address", async () => {
  for (const [path, issuer, sentence] of [["/agent/", staff.issuer, /La connexion n’a pas abouti.*soutien informatique/],
    ["/", citizen.issuer, /La connexion n’a pas abouti.*communiquez avec l’Office/]]) {
    const page = await newPage(path);
    await page.waitForSelector("#sign-in");
    const authRequest = page.waitForRequest((r) => r.url().startsWith(`${issuer}/auth`));
    await page.click("#sign-in button[type=submit]");
    const state = new URL((await authRequest).url()).searchParams.get("state");
    await page.waitForURL((url) => url.href.startsWith(issuer));
    // What the provider sends back when the person cancels (RFC 6749 §4.1.2.1).
    await page.goto(`${api.base}${path}?error=access_denied&error_description=cancelled&state=${state}`);
    await page.waitForSelector("[role=alert]");
    assert.match(await page.textContent("[role=alert]"), sentence, path);
    assert.equal(await page.locator("#sign-in").count(), 1);
    assert.equal(new URL(page.url()).search, "", "the error leaves the address");
    await page.context().close();
  }
});

test("signing out ends the staff directory's session: the next sign-in asks for the password", async () => {
  const page = await newPage("/agent/");
  await page.click("#sign-in button[type=submit]");
  await providerSignIn(page, "employe-bureau-partage", staff.issuer);
  await page.waitForSelector("#queue-refresh");
  await page.click("#sign-out");
  // The directory's end_session_endpoint, then back to the page.
  await page.waitForURL((url) => url.href.startsWith(`${staff.issuer}/session/end`));
  const endSession = new URL(page.url());
  assert.equal(endSession.searchParams.get("post_logout_redirect_uri"), `${api.base}/agent/`);
  await page.click("button[name=logout][value=yes]");
  await page.waitForURL((url) => url.href.startsWith(`${api.base}/agent/`));
  await page.waitForSelector("#sign-in");
  assert.equal(new URL(page.url()).search, "", "the sign-out's state leaves the address");
  assert.equal(await page.evaluate(() => sessionStorage.getItem("agent.token")), null);
  // The next person at the desk: the provider's login screen, not the previous employee.
  await page.click("#sign-in button[type=submit]");
  await page.waitForURL((url) => url.href.startsWith(staff.issuer));
  await page.waitForSelector("input[name=login]");
  await providerSignIn(page, "employe-suivant", staff.issuer);
  await page.waitForSelector("#queue-refresh");
  const token = await page.evaluate(() => sessionStorage.getItem("agent.token"));
  assert.equal(JSON.parse(Buffer.from(token.split(".")[1], "base64url")).sub, "employe-suivant");
  await page.context().close();
});
