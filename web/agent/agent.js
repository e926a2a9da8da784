// The Office's page: employees sign in through the staff issuer, work the assistance queue
// (oldest first), open a request (the file's contact details, what the holder tried, what to
// confirm on the phone), close it with the outcome of the call, and read a file's audit trail.
// No framework and no build step, like the holder's page: one module on the staff routes of
// openapi.yaml. Views follow the address's hash (#/, #/request/REF, #/audit/NUMBER), so the
// browser's Back button and bookmarks work.

import { apiClient, escape, expired, oidcManager } from "/common.js";
import { TEXT } from "./i18n.js";
import { fill, formatDateTime, locale } from "/i18n.js";

const state = {
  lang: sessionStorage.getItem("agent.lang") === "en" ? "en" : "fr",
  config: null,
  token: sessionStorage.getItem("agent.token"),
  signedInAt: Number(sessionStorage.getItem("agent.signedInAt")) || 0,
  view: null, // { name, data, error, fields }
  values: {},
  flash: null, // a status message shown once on the queue
  queue: { cursors: [null] }, // the cursor of each page seen so far; the last is the page shown
  audit: { number: null, cursors: [null] },
  limit: null,
};

const $ = (selector) => document.querySelector(selector);
const t = (key, values) => fill(TEXT[state.lang][key] ?? TEXT.fr[key] ?? key, values);
const colon = () => (state.lang === "fr" ? " : " : ": ");

// ---------------------------------------------------------------- API

// A success that is not JSON (an HTML page, where a path went somewhere else) is no answer.
const call = apiClient(state, { refuseNonJson: true });

/** The sentence for a problem, as the key of TEXT (so it follows a change of language). */
function problemKey(answer) {
  if (answer.status === 0) return "error_network";
  const key = `error_${answer.body.code}`;
  return key in TEXT.fr ? key : "error_other";
}

// ---------------------------------------------------------------- sign-in

async function signIn() {
  if (state.config.mode === "local") {
    const body = { sub: state.values["dev-subject"] || "agent-dev" };
    if (state.values["dev-agent"] !== false) body.roles = ["agent"];
    let json;
    try {
      const response = await fetch(`${state.config.api}/dev/token`, { method: "POST", body: JSON.stringify(body) });
      json = await response.json();
    } catch {
      return show("signIn", { error: "error_network" }, { focus: "error" });
    }
    if (!json.token) return show("signIn", { error: "error_sign_in" }, { focus: "error" });
    setToken(json.token, { fresh: true });
    return route();
  }
  try {
    // After a sign-out at a directory that cannot end its own session: ask for the password
    // again, or the next "Se connecter" on a shared desk comes back as the previous employee.
    const prompt = localStorage.getItem("agent.promptLogin") ? { prompt: "login" } : undefined;
    await (await oidcManager(state.config)).signinRedirect(prompt);
  } catch {
    show("signIn", { error: "error_sign_in" }, { focus: "error" });
  }
}

async function finishOidcSignIn() {
  const params = new URLSearchParams(location.search);
  // A refusal by the provider (`error`, e.g. access_denied) comes back like a code: the
  // library's callback throws on it, and start() shows the sign-in sentence.
  if (state.config.mode !== "oidc" || !params.has("state")) return;
  try {
    if (params.has("code") || params.has("error")) {
      const user = await (await oidcManager(state.config)).signinRedirectCallback();
      setToken(user.id_token, { fresh: true });
      localStorage.removeItem("agent.promptLogin");
    } else {
      // Back from the directory's sign-out (end_session_endpoint).
      await (await oidcManager(state.config)).signoutRedirectCallback().catch(() => {});
    }
  } finally {
    for (const name of ["code", "state", "session_state", "iss", "error", "error_description", "error_uri"]) params.delete(name);
    const rest = params.toString();
    history.replaceState(null, "", `${location.pathname}${rest ? `?${rest}` : ""}${location.hash}`);
  }
}

/** `fresh`: the token of a sign-in just made (not one kept from earlier). */
function setToken(token, { fresh = false } = {}) {
  state.token = token;
  if (token) sessionStorage.setItem("agent.token", token);
  else sessionStorage.removeItem("agent.token");
  if (fresh) {
    state.signedInAt = Date.now();
    sessionStorage.setItem("agent.signedInAt", String(state.signedInAt));
  }
  $("#sign-out").hidden = !token;
}

async function signOut() {
  setToken(null);
  state.queue = { cursors: [null] };
  if (state.config.mode === "oidc") {
    // The directory's session ends too (a shared desk computer): through its
    // end_session_endpoint when it has one, back to this page; otherwise the next sign-in
    // asks for the password again (prompt=login).
    localStorage.setItem("agent.promptLogin", "1");
    try {
      const manager = await oidcManager(state.config);
      if (await manager.metadataService.getEndSessionEndpoint()) {
        const o = state.config.oidc;
        return await manager.signoutRedirect({ post_logout_redirect_uri: o.post_logout_redirect_uri || o.redirect_uri });
      }
      await manager.removeUser();
    } catch { /* the directory unreachable: prompt=login still applies */ }
  }
  announce(t("signedOut"));
  if (location.hash && location.hash !== "#/") location.hash = "#/";
  show("signIn", {});
}

// ---------------------------------------------------------------- rendering helpers

function field({ id, label, hint, error, input }) {
  const described = [hint ? `${id}-hint` : "", error ? `${id}-error` : ""].filter(Boolean).join(" ");
  return `<div class="field">
    <label for="${id}">${escape(label)}</label>
    ${hint ? `<p class="hint" id="${id}-hint">${escape(hint)}</p>` : ""}
    ${input.replace("<input", `<input id="${id}" name="${id}"${described ? ` aria-describedby="${described}"` : ""}${error ? ' aria-invalid="true"' : ""}`)}
    ${error ? `<p class="field-error" id="${id}-error">${escape(t(error))}</p>` : ""}
  </div>`;
}

/** `error`: a key of TEXT. */
function alertBox(error) {
  if (!error) return "";
  return `<div class="alert" role="alert" id="view-error" tabindex="-1"><p>${escape(t(error))}</p></div>`;
}

const when = (iso) => `<time datetime="${escape(iso)}">${escape(formatDateTime(new Date(iso), state.lang))}</time>`;

/** "3 hours ago" / "il y a 3 heures". */
function ago(iso) {
  const seconds = (new Date(iso) - Date.now()) / 1000;
  const format = new Intl.RelativeTimeFormat(locale(state.lang), { numeric: "auto" });
  const abs = Math.abs(seconds);
  if (abs < 60) return format.format(0, "second"); // "maintenant" / "now"
  if (abs < 3600) return format.format(Math.round(seconds / 60), "minute");
  if (abs < 2 * 86400) return format.format(Math.round(seconds / 3600), "hour");
  return format.format(Math.round(seconds / 86400), "day");
}

const words = (prefix, value) => (value && `${prefix}${value}` in TEXT[state.lang] ? t(`${prefix}${value}`) : t("unknown"));
const row = (term, value) => `<dt>${escape(term)}</dt><dd>${value}</dd>`;
const text = (value) => (value ? escape(value) : t("unknown"));

/** One audit event in words: when, what and its outcome, who (and from where). */
function eventText(e, requester) {
  const action = `action_${e.action}` in TEXT[state.lang] ? t(`action_${e.action}`) : t("action_other");
  const outcome = [`outcome_${e.action}_${e.outcome}`, `outcome_${e.outcome}`].find((k) => k in TEXT[state.lang]);
  const outcomeText = outcome ? t(outcome) : t("outcome_other", { outcome: String(e.outcome).replace(/_/g, " ") });
  // In "what the holder tried", another account's attempts on the file are told apart from the
  // requester's own (an impostor's lookups must not read as the holder's).
  const recipient = `actor_recipient_${e.actor?.id}`;
  const kind = e.actor?.type === "agent" ? "actor_agent"
    : e.actor?.type === "recipient" ? (recipient in TEXT[state.lang] ? recipient : "action_report")
    : e.actor?.type === "mailservice" ? "actor_mail_service"
    : !requester ? "actor_account"
    : e.actor?.id === requester ? "actor_requester" : "actor_other_account";
  const who = t(kind, { id: e.actor?.id ?? "?" });
  return { action, outcome: outcomeText, who };
}

function eventItem(e, requester) {
  const { action, outcome, who } = eventText(e, requester);
  const detail = e.detail ? ` <span class="detail">(${escape(e.detail)})</span>` : "";
  const from = e.sourceIp ? `, ${escape(t("fromIp", { ip: e.sourceIp }))}` : "";
  return `<li class="event">
    <p class="event-when">${when(e.at)}</p>
    <p class="event-what"><strong>${escape(action)}</strong>${colon()}${escape(outcome)}${detail}</p>
    <p class="event-who">${escape(who)}${from}</p>
  </li>`;
}

// ---------------------------------------------------------------- views

const VIEWS = {
  loading: () => `<h2 tabindex="-1" id="view-title">${t("loading")}</h2>`,

  signIn: ({ error }) => {
    const local = state.config.mode === "local";
    const subject = state.values["dev-subject"] || `agent-${Math.random().toString(36).slice(2, 8)}`;
    state.values["dev-subject"] = subject;
    return `<h2 tabindex="-1" id="view-title">${t("signInTitle")}</h2>
      ${alertBox(error)}
      <p>${t("signInIntro")}</p>
      <form id="sign-in" novalidate>
        ${local ? field({ id: "dev-subject", label: t("devSubject"), hint: t("devSubjectHint"), input: `<input type="text" autocomplete="off" value="${escape(subject)}">` }) : ""}
        ${local ? `<label class="choice"><input type="checkbox" id="dev-agent" name="dev-agent" ${state.values["dev-agent"] === false ? "" : "checked"}> ${escape(t("devAgentRole"))}</label>` : ""}
        <div class="actions"><button type="submit">${local ? t("signInDev") : t("signIn")}</button></div>
      </form>`;
  },

  forbidden: ({ error }) => `<h2 tabindex="-1" id="view-title">${t("forbiddenTitle")}</h2>
    ${alertBox(error)}
    <div class="actions"><button type="button" id="forbidden-sign-out">${t("signOut")}</button></div>`,

  queue: ({ error, data }) => {
    const page = state.queue.cursors.length;
    const items = data?.items ?? [];
    const list = items.length
      ? `<ol class="queue" aria-labelledby="view-title">${items.map(queueItem).join("")}</ol>`
      : `<p class="empty">${t("queueEmpty")}</p>`;
    return `<h2 tabindex="-1" id="view-title">${t("queueTitle")}</h2>
      ${state.flash ? `<div class="success" id="flash"><p>${escape(flashText())}</p></div>` : ""}
      ${alertBox(error)}
      <p>${t("queueIntro")}</p>
      ${data ? `<p class="page-number" id="queue-page">${t("queuePage", { n: page })}</p>${list}` : ""}
      <nav class="actions pager" aria-label="${escape(t("queueTitle"))}">
        ${page > 1 ? `<button type="button" class="secondary" id="queue-previous">${t("previousPage")}</button>` : ""}
        ${data?.next ? `<button type="button" class="secondary" id="queue-next">${t("nextPage")}</button>` : ""}
        <button type="button" class="secondary" id="queue-refresh">${t("refresh")}</button>
      </nav>
      <section class="find-file" aria-labelledby="find-title">
        <h3 id="find-title">${t("findTitle")}</h3>
        <form id="find-audit" novalidate>
          ${field({ id: "audit-number", label: t("auditNumber"), error: state.view?.fields?.auditNumber,
            input: `<input type="text" autocomplete="off" spellcheck="false" autocapitalize="characters" value="${escape(state.values["audit-number"])}">` })}
          <div class="actions"><button type="submit" class="secondary">${t("showAudit")}</button></div>
        </form>
      </section>`;
  },

  request: ({ error, fields = {}, data }) => {
    const r = data.request;
    const open = r.status === "open";
    return `<p class="back"><a href="#/">${t("backToQueue")}</a></p>
      <h2 tabindex="-1" id="view-title">${t("requestTitle", { reference: escape(r.reference) })}</h2>
      ${alertBox(error)}
      ${r.reported ? `<section class="report-notice" id="report-notice" aria-labelledby="report-title">
        <h3 id="report-title">${t("reportTitle")}</h3>
        <p>${words("reported_", r.reported)}</p>
        ${open ? `<p>${t("reportedFrozen")}</p>` : ""}
      </section>` : ""}
      ${!r.reported && r.fileFrozen && open ? `<div class="alert" role="note" id="file-frozen"><p>${t("fileFrozen")}</p></div>` : ""}
      <div class="columns">
        <div>
          <section aria-labelledby="contact-title">
            <h3 id="contact-title">${t("contactTitle")}</h3>
            <dl class="summary">
              ${row(t("holder"), text(r.holderName))}
              ${row(t("phone"), r.phone ? `<a href="tel:${escape(r.phone.replace(/[^0-9+]/g, ""))}">${escape(r.phone)}</a>` : t("unknown"))}
              ${row(t("preferredTime"), words("time_", r.preferredTime))}
              ${row(t("callLanguage"), words("lang_", r.requestLanguage))}
              ${row(t("certificate"), escape(r.certificateNumber))}
              ${row(t("fileLanguage"), words("lang_", r.language))}
              ${row(t("email"), r.maskedEmail ? escape(r.maskedEmail) : t("noEmail"))}
              ${r.emailHoldUntil ? row(t("emailHoldUntil"), when(r.emailHoldUntil)) : ""}
              ${row(t("createdAt"), `${when(r.createdAt)} (${escape(ago(r.createdAt))})`)}
              ${row(t("status"), words("status_", r.status))}
            </dl>
            ${r.emailDelivery ? `<div class="delivery-problem" id="email-delivery">
              <p>${t(`delivery_${r.emailDelivery.state === "complained" ? "complained" : "bounced"}`, { date: when(r.emailDelivery.at) })}</p>
              ${open ? `<p>${t("deliveryHint")}</p>` : ""}
            </div>` : ""}
          </section>
          <section aria-labelledby="message-title">
            <h3 id="message-title">${t("messageTitle")}</h3>
            ${r.message ? `<blockquote class="message" lang="${escape(r.requestLanguage)}">${escape(r.message)}</blockquote>` : `<p>${t("noMessage")}</p>`}
          </section>
          <section aria-labelledby="tried-title">
            <h3 id="tried-title">${t("triedTitle")}</h3>
            ${data.tried === null ? `<p>${escape(t(data.triedError))}</p>`
              : data.tried.length ? `<ol class="events" id="tried">${data.tried.map((e) => eventItem(e, data.requester)).join("")}</ol>${data.triedMore ? `<p>${t("triedMore")}</p>` : ""}`
              : `<p>${t("triedNone")}</p>`}
            <p><a href="#/audit/${encodeURIComponent(r.certificateNumber)}" id="full-audit">${t("fullAudit", { number: escape(r.certificateNumber) })}</a></p>
          </section>
        </div>
        <div>
          ${open ? `<section class="reminder" aria-labelledby="confirm-title">
            <h3 id="confirm-title">${t("confirmTitle")}</h3>
            <ol>${[1, 2, 3, 4, 5].map((n) => `<li>${t(`confirm${n}`)}</li>`).join("")}</ol>
          </section>
          ${resolveForm(fields)}` : closedBox(r)}
        </div>
      </div>`;
  },

  confirm: ({ error, data }) => `<p class="back"><a href="#/">${t("backToQueue")}</a></p>
    <h2 tabindex="-1" id="view-title">${t("confirmChangeTitle")}</h2>
    ${alertBox(error)}
    <p>${t("confirmChangeIntro")}</p>
    <dl class="summary change">
      ${row(t("certificate"), escape(data.request.certificateNumber))}
      ${row(t("holder"), text(data.request.holderName))}
      ${row(t("oldEmail"), data.request.maskedEmail ? escape(data.request.maskedEmail) : t("noEmail"))}
      ${row(t("newEmail"), `<strong id="confirm-new-email">${escape(data.newEmail)}</strong>`)}
    </dl>
    <div class="actions">
      <button type="button" id="confirm-change">${t("confirmChange")}</button>
      <button type="button" class="secondary" id="edit-change">${t("edit")}</button>
    </div>`,

  audit: ({ error, data }) => {
    const page = state.audit.cursors.length;
    const items = data?.items ?? [];
    return `<p class="back"><a href="#/">${t("backToQueue")}</a></p>
      <h2 tabindex="-1" id="view-title">${t("auditTitle", { number: escape(state.audit.number) })}</h2>
      ${alertBox(error)}
      <p>${t("auditIntro")}</p>
      ${data ? `<p class="page-number" id="audit-page">${t("queuePage", { n: page })}</p>
        ${items.length ? `<ol class="events" id="audit-events">${items.map((e) => eventItem(e)).join("")}</ol>` : `<p>${t("auditEmpty")}</p>`}` : ""}
      <nav class="actions pager" aria-label="${escape(t("auditTitle", { number: state.audit.number }))}">
        ${page > 1 ? `<button type="button" class="secondary" id="audit-newer">${t("newerEvents")}</button>` : ""}
        ${data?.next ? `<button type="button" class="secondary" id="audit-older">${t("olderEvents")}</button>` : ""}
      </nav>`;
  },
};

/** The badge of a request a "this wasn't me" report opened: in its heading, so that moving
 * from heading to heading tells it too. */
const reportedBadge = (r) => (r.reported ? `<span class="badge reported">${t("reportedBadge")}</span>` : "");

/** The status message of the queue, its time (`until`) in the page's language. */
function flashText() {
  const { key, values } = state.flash;
  return t(key, { ...values, until: values.until ? formatDateTime(new Date(values.until), state.lang) : "" });
}

function queueItem(r) {
  return `<li class="request-card${r.reported ? " reported" : ""}">
    <h3>${reportedBadge(r)}<a href="#/request/${encodeURIComponent(r.reference)}">${t("open", { reference: escape(r.reference) })}</a></h3>
    <p class="age">${escape(t("openedAgo", { ago: ago(r.createdAt) }))} — ${when(r.createdAt)}</p>
    <dl class="summary">
      ${row(t("holder"), text(r.holderName))}
      ${row(t("phone"), text(r.phone))}
      ${row(t("preferredTime"), words("time_", r.preferredTime))}
      ${row(t("callLanguage"), words("lang_", r.requestLanguage))}
    </dl>
  </li>`;
}

function resolveForm(fields) {
  const outcome = state.values.outcome;
  const radio = (value) =>
    `<label class="choice"><input type="radio" name="outcome" value="${value}" ${outcome === value ? "checked" : ""}${fields.outcome ? ' aria-describedby="outcome-error"' : ""}> ${escape(t(`outcome_${value}`))}</label>`;
  return `<section aria-labelledby="resolve-title">
    <h3 id="resolve-title">${t("resolveTitle")}</h3>
    <form id="resolve" novalidate>
      <fieldset${fields.outcome ? ' aria-invalid="true"' : ""}><legend>${t("outcomeLegend")}</legend>
        ${radio("email_updated")}
        <div id="new-email-fields" class="nested" ${outcome === "email_updated" ? "" : "hidden"}>
          ${field({ id: "new-email", label: t("newEmail"), hint: t("newEmailHint"), error: fields.newEmail,
            input: `<input type="email" autocomplete="off" spellcheck="false" value="${escape(state.values["new-email"])}">` })}
          ${field({ id: "new-email-again", label: t("newEmailAgain"), hint: t("newEmailAgainHint"), error: fields.newEmailAgain,
            input: `<input type="email" autocomplete="off" spellcheck="false" value="${escape(state.values["new-email-again"])}">` })}
        </div>
        ${radio("identity_not_confirmed")}
        ${radio("unreachable")}
        ${fields.outcome ? `<p class="field-error" id="outcome-error">${escape(t(fields.outcome))}</p>` : ""}
      </fieldset>
      <div class="actions"><button type="submit">${outcome === "email_updated" ? t("continue") : t("closeRequest")}</button></div>
    </form>
  </section>`;
}

function closedBox(r) {
  return `<section class="closed" aria-labelledby="closed-title">
    <h3 id="closed-title">${t("closedTitle")}</h3>
    <dl class="summary">
      ${row(t("outcome"), r.outcome ? escape(t(`outcome_${r.outcome}`)) : t("unknown"))}
      ${row(t("closedBy"), text(r.closedBy))}
      ${row(t("closedAt"), r.closedAt ? when(r.closedAt) : t("unknown"))}
    </dl>
  </section>`;
}

function staticTexts() {
  document.documentElement.lang = state.lang;
  document.title = t("pageTitle");
  for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  const toggle = $("#language-toggle");
  toggle.textContent = t("toggle");
  toggle.lang = t("toggleLang");
}

function announce(message) {
  $("#announcer").textContent = message;
}

/** Shows a view. A new view moves focus to its heading; an error moves it to the message. */
function show(name, extra = {}, { focus = "heading" } = {}) {
  state.view = { name, data: extra.data, error: extra.error, fields: extra.fields };
  $("#view").innerHTML = VIEWS[name](state.view);
  wire();
  if (focus === "heading") $("#view-title")?.focus();
  else if (focus === "error") (document.querySelector("[aria-invalid=true] input, input[aria-invalid=true]") || $("#view-error") || $("#view-title"))?.focus();
}

// ---------------------------------------------------------------- behaviour

function remember(form) {
  for (const element of form.elements) {
    if (!element.name) continue;
    if (element.type === "radio") { if (element.checked) state.values[element.name] = element.value; }
    else if (element.type === "checkbox") state.values[element.name] = element.checked;
    else state.values[element.name] = element.value;
  }
}

function wire() {
  for (const form of document.querySelectorAll("#view form")) form.addEventListener("input", () => remember(form));
  const on = (selector, event, handler) => $(selector)?.addEventListener(event, handler);
  on("#sign-in", "submit", (e) => { e.preventDefault(); remember(e.target); signIn(); });
  on("#forbidden-sign-out", "click", () => signOut());
  on("#queue-next", "click", () => { state.queue.cursors.push(state.view.data.next); loadQueue(); });
  on("#queue-previous", "click", () => { state.queue.cursors.pop(); loadQueue(); });
  on("#queue-refresh", "click", () => { state.flash = null; state.queue.cursors = [null]; loadQueue(); });
  on("#find-audit", "submit", (e) => { e.preventDefault(); remember(e.target); findAudit(); });
  on("#resolve", "change", (e) => {
    if (e.target.name !== "outcome") return;
    remember(e.currentTarget);
    $("#new-email-fields").hidden = e.target.value !== "email_updated";
    $("#resolve button[type=submit]").textContent = e.target.value === "email_updated" ? t("continue") : t("closeRequest");
  });
  on("#resolve", "submit", (e) => { e.preventDefault(); remember(e.target); submitOutcome(); });
  on("#confirm-change", "click", () => resolve({ outcome: "email_updated", newEmail: state.view.data.newEmail.trim() }));
  on("#edit-change", "click", () => {
    show("request", { data: state.view.data }, { focus: "none" });
    $("#new-email")?.focus();
  });
  on("#audit-older", "click", () => { state.audit.cursors.push(state.view.data.next); loadAudit(); });
  on("#audit-newer", "click", () => { state.audit.cursors.pop(); loadAudit(); });
}

/** The answers every staff route shares: signed out, not an employee, or another problem. */
function refused(answer) {
  if (answer.status === 401) {
    // A token refused right after signing in, before it expires, is no ended session (the
    // issuer's new keys not known yet, a clock far off…): "sign in again" would send the
    // person in circles.
    const justSignedIn = Date.now() - state.signedInAt < 2 * 60 * 1000 && !expired(state.token);
    setToken(null);
    show("signIn", { error: justSignedIn ? "error_refused_after_sign_in" : problemKey(answer) }, { focus: "error" });
    return true;
  }
  if (answer.status === 403) {
    show("forbidden", { error: problemKey(answer) }, { focus: "error" });
    return true;
  }
  return false;
}

const query = (params) => {
  const search = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined) search.set(k, v);
  return search.toString();
};

async function loadQueue({ focus = "heading" } = {}) {
  const cursor = state.queue.cursors.at(-1);
  const answer = await call("GET", `/agent/assistance-requests?${query({ status: "open", limit: state.limit, next: cursor })}`);
  if (refused(answer)) return;
  if (answer.status !== 200) return show("queue", { error: problemKey(answer) }, { focus: "error" });
  show("queue", { data: answer.body }, { focus });
  if (state.flash) announce(flashText());
}

async function loadRequest(reference, { focus = "heading", error } = {}) {
  const answer = await call("GET", `/agent/assistance-requests/${encodeURIComponent(reference)}`);
  if (refused(answer)) return;
  if (answer.status !== 200) {
    state.flash = null;
    return show("queue", { error: problemKey(answer) }, { focus: "error" });
  }
  const request = answer.body;
  // What the holder tried: their own events on the most recent page of the file's trail.
  const page = await call("GET", `/agent/certificates/${encodeURIComponent(request.certificateNumber)}/audit?limit=100`);
  let tried = null;
  let triedMore = false;
  let triedError = null;
  let requester = null;
  if (page.status === 200) {
    tried = page.body.items.filter((e) => e.actor?.type === "account");
    // The account that filed this request: the actor of its `assistance_request` event.
    // (A request a report opened has none: its account is the one reported, not a requester.)
    if (!request.reported) {
      requester = page.body.items.find((e) => e.action === "assistance_request" && e.detail === request.reference)?.actor?.id;
    }
    triedMore = Boolean(page.body.next);
  } else {
    triedError = problemKey(page);
  }
  if (request.status === "open" && state.values.reference !== request.reference) {
    state.values = { reference: request.reference, "audit-number": state.values["audit-number"] };
  }
  show("request", { data: { request, tried, triedMore, triedError, requester }, error }, { focus: error ? "error" : focus });
}

function submitOutcome() {
  const outcome = state.values.outcome;
  const data = state.view.data;
  if (!outcome) return show("request", { data, error: "errorSummary", fields: { outcome: "chooseOutcome" } }, { focus: "error" });
  if (outcome !== "email_updated") return resolve({ outcome });
  const first = (state.values["new-email"] || "").trim();
  const again = (state.values["new-email-again"] || "").trim();
  const fields = {};
  const valid = (v) => /^[^\s@]+@[^\s@.]+(\.[^\s@.]+)+$/.test(v) && v.length <= 254;
  if (!first) fields.newEmail = "required";
  else if (!valid(first)) fields.newEmail = "badEmail";
  if (!again) fields.newEmailAgain = "required";
  else if (valid(first) && again.toLowerCase() !== first.toLowerCase()) fields.newEmailAgain = "emailsDiffer";
  else if (!valid(again)) fields.newEmailAgain = "badEmail";
  if (Object.keys(fields).length) return show("request", { data, error: "errorSummary", fields }, { focus: "error" });
  show("confirm", { data: { ...data, newEmail: first } });
}

/** A resolve on its way: a second click (a double click) sends nothing more. */
let resolving = false;

async function resolve(body) {
  if (resolving) return;
  resolving = true;
  for (const button of document.querySelectorAll("#view button")) button.disabled = true;
  try {
    await resolveOnce(body);
  } finally {
    resolving = false;
  }
}

async function resolveOnce(body) {
  const data = state.view.data;
  const reference = data.request.reference;
  const answer = await call("POST", `/agent/assistance-requests/${encodeURIComponent(reference)}/resolve`, body);
  if (refused(answer)) return;
  if (answer.status === 200) {
    const hold = body.outcome === "email_updated" && answer.body.emailHoldUntil;
    state.flash = {
      key: hold ? "resolved_email_updated_hold" : `resolved_${body.outcome}`,
      values: { reference, number: answer.body.certificateNumber, until: hold || "" },
    };
    state.values = {};
    state.queue.cursors = [null];
    if (location.hash === "#/") return loadQueue();
    location.hash = "#/"; // the hashchange loads the queue
    return;
  }
  if (answer.body.code === "already_closed") return loadRequest(reference, { error: problemKey(answer) });
  if (answer.body.code === "invalid_request" && body.newEmail) {
    return show("request", { data, error: problemKey(answer), fields: { newEmail: "badEmail" } }, { focus: "error" });
  }
  show(state.view.name, { data, error: problemKey(answer) }, { focus: "error" });
}

function findAudit() {
  const number = (state.values["audit-number"] || "").trim();
  if (!/^[A-Za-z0-9 -]{1,40}$/.test(number)) {
    return show("queue", { data: state.view.data, error: "errorSummary", fields: { auditNumber: number ? "badNumber" : "required" } }, { focus: "error" });
  }
  location.hash = `#/audit/${encodeURIComponent(number.toUpperCase())}`;
}

async function loadAudit({ focus = "heading" } = {}) {
  const cursor = state.audit.cursors.at(-1);
  const path = `/agent/certificates/${encodeURIComponent(state.audit.number)}/audit?${query({ limit: state.limit, cursor })}`;
  const answer = await call("GET", path);
  if (refused(answer)) return;
  if (answer.status !== 200) return show("audit", { error: problemKey(answer) }, { focus: "error" });
  show("audit", { data: answer.body }, { focus });
}

/** Shows the view the address names. */
async function route({ initial = false } = {}) {
  const focus = initial ? "none" : "heading";
  if (!state.token) return show("signIn", {}, { focus });
  let hash;
  try {
    hash = decodeURIComponent(location.hash.replace(/^#\/?/, ""));
  } catch {
    hash = null; // not UTF-8 once decoded ("%E0"): no view of ours
  }
  const [kind, id] = (hash ?? "request/").split("/");
  show("loading", {}, { focus: "none" });
  if (kind === "request") {
    state.flash = null;
    // A reference's shape only ("..", "", "%E0" are none: they would fetch something else).
    if (!/^[A-Z0-9-]{1,40}$/i.test(id ?? "")) return show("queue", { error: "error_not_found" }, { focus: "error" });
    return loadRequest(id, { focus });
  }
  if (kind === "audit") {
    state.flash = null;
    if (!/^[A-Z0-9 -]{1,40}$/i.test(id ?? "")) {
      return show("queue", { error: "errorSummary", fields: { auditNumber: "badNumber" } }, { focus: "error" });
    }
    if (state.audit.number !== id) state.audit = { number: id, cursors: [null] };
    return loadAudit({ focus });
  }
  return loadQueue({ focus });
}

function toggleLanguage() {
  state.lang = state.lang === "fr" ? "en" : "fr";
  sessionStorage.setItem("agent.lang", state.lang);
  staticTexts();
  if (state.view) show(state.view.name, { ...state.view }, { focus: "none" });
  announce(t("languageChanged"));
}

async function start() {
  staticTexts();
  $("#language-toggle").addEventListener("click", toggleLanguage);
  $("#sign-out").addEventListener("click", () => signOut());
  // Only "#/…" addresses are views: the skip link's "#main" (or any other anchor) moves focus,
  // not the view (which would lose the request shown and what was typed).
  window.addEventListener("hashchange", () => { if (!location.hash || location.hash.startsWith("#/")) route(); });
  const limit = Number(new URLSearchParams(location.search).get("limit"));
  try {
    state.config = await (await fetch("config.json")).json();
  } catch {
    $("#view").innerHTML = alertBox("error_network");
    return;
  }
  state.limit = Number.isInteger(limit) && limit >= 1 && limit <= 100 ? limit : state.config.pageSize || null;
  try {
    await finishOidcSignIn();
  } catch {
    setToken(null);
    return show("signIn", { error: "error_sign_in" }, { focus: "error" });
  }
  setToken(state.token);
  await route({ initial: true });
}

start();
