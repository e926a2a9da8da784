// The holder's recovery page: sign in, certificate number and date of birth, then the emailed
// code — or an invoice, or an assistance request — until the account is linked. At
// /signalement/<token> (the link of the notices), without signing in: "this wasn't me". No
// framework and no build step: one small module talking to the API of openapi.yaml.

import { apiClient, escape, expired, oidcManager } from "./common.js";
import { TEXT, fill, formatDate, formatDateTime, formatTime } from "./i18n.js";

const state = {
  lang: sessionStorage.getItem("recovery.lang") === "en" ? "en" : "fr",
  config: null,
  token: sessionStorage.getItem("recovery.token"),
  signedInAt: Number(sessionStorage.getItem("recovery.signedInAt")) || 0,
  view: null, // { name, data, error }
  values: {},
  timer: null,
  poll: null, // the code's delivery, asked again while it is "sent"
  report: null, // at /signalement/<token>: { token }
};

const $ = (selector) => document.querySelector(selector);
const t = (key, values) => fill(TEXT[state.lang][key] ?? key, values);

// ---------------------------------------------------------------- API

const call = apiClient(state, { readRetryAfter: true });

// ---------------------------------------------------------------- sign-in

async function signIn(subject) {
  if (state.config.mode === "local") {
    const response = await fetch(`${state.config.api}/dev/token`, { method: "POST", body: JSON.stringify({ sub: subject }) });
    const json = await response.json();
    setToken(json.token, { fresh: true });
    await resume();
  } else {
    await (await oidcManager(state.config)).signinRedirect();
  }
}

async function finishOidcSignIn() {
  const params = new URLSearchParams(location.search);
  // A refusal by the provider (`error`, e.g. access_denied) comes back like a code: the
  // library's callback throws on it, and start() shows the sign-in sentence.
  if (state.config.mode !== "oidc" || !(params.has("code") || params.has("error")) || !params.has("state")) return;
  try {
    const user = await (await oidcManager(state.config)).signinRedirectCallback();
    setToken(user.id_token, { fresh: true });
  } finally {
    history.replaceState(null, "", location.pathname);
  }
}

/** `fresh`: the token of a sign-in just made (not one kept from earlier). */
function setToken(token, { fresh = false } = {}) {
  state.token = token;
  if (token) sessionStorage.setItem("recovery.token", token);
  else sessionStorage.removeItem("recovery.token");
  if (fresh) {
    state.signedInAt = Date.now();
    sessionStorage.setItem("recovery.signedInAt", String(state.signedInAt));
  }
}

// ---------------------------------------------------------------- rendering

function field({ id, label, hint, error, input }) {
  const described = [hint ? `${id}-hint` : "", error ? `${id}-error` : ""].filter(Boolean).join(" ");
  return `<div class="field">
    <label for="${id}">${escape(label)}</label>
    ${hint ? `<p class="hint" id="${id}-hint">${escape(hint)}</p>` : ""}
    ${input.replace("<input", `<input id="${id}" name="${id}"${described ? ` aria-describedby="${described}"` : ""}${error ? ' aria-invalid="true"' : ""}`)
      .replace("<textarea", `<textarea id="${id}" name="${id}"${described ? ` aria-describedby="${described}"` : ""}${error ? ' aria-invalid="true"' : ""}`)}
    ${error ? `<p class="field-error" id="${id}-error">${escape(error)}</p>` : ""}
  </div>`;
}

function alertBox(error) {
  if (!error) return "";
  return `<div class="alert" role="alert" id="step-error" tabindex="-1"><p>${escape(error)}</p></div>`;
}

function problemText(answer) {
  const code = answer.body.code || "service_unavailable";
  const values = { n: answer.body.attemptsLeft ?? 0, s: Math.max(1, Math.ceil(answer.retryAfter || 0)) };
  if (code === "locked") {
    const until = new Date(Date.now() + (answer.retryAfter || 0) * 1000);
    values.until = formatDateTime(until, state.lang);
  }
  if (code === "email_change_pending") values.when = formatDateTime(new Date(answer.body.availableAt), state.lang);
  return t(`error_${code}`, values);
}

const STEPS = {
  loading: () => `<h2 tabindex="-1" id="step-title">${t("loading")}</h2>`,

  signIn: ({ error }) => {
    const local = state.config.mode === "local";
    return `<h2 tabindex="-1" id="step-title">${t("signInTitle")}</h2>
      ${alertBox(error)}
      <p>${t("signInIntro")}</p>
      <form id="sign-in" novalidate>
        ${local ? field({ id: "dev-subject", label: t("devSubject"), hint: t("devSubjectHint"), input: `<input type="text" autocomplete="off" value="${escape(state.values["dev-subject"] || `titulaire-${Math.random().toString(36).slice(2, 8)}`)}">` }) : ""}
        <div class="actions"><button type="submit">${local ? t("signInDev") : t("signIn")}</button></div>
      </form>`;
  },

  lookup: ({ error, fields = {} }) => `<h2 tabindex="-1" id="step-title">${t("lookupTitle")}</h2>
    ${alertBox(error)}
    <p>${t("lookupIntro")}</p>
    <form id="lookup" novalidate>
      ${field({ id: "certificate-number", label: t("certificateNumber"), hint: t("certificateHint"), error: fields.certificateNumber,
        input: `<input type="text" autocomplete="off" spellcheck="false" autocapitalize="characters" required value="${escape(state.values["certificate-number"])}">` })}
      ${field({ id: "date-of-birth", label: t("dateOfBirth"), hint: t("dateHint"), error: fields.dateOfBirth,
        input: `<input type="text" inputmode="numeric" autocomplete="bday" placeholder="${state.lang === "en" ? "YYYY-MM-DD" : "AAAA-MM-JJ"}" required value="${escape(state.values["date-of-birth"])}">` })}
      <div class="actions"><button type="submit">${t("continue")}</button></div>
    </form>`,

  matched: ({ error, data }) => {
    const canEmail = data.options.includes("email_code");
    // An employee's email change on hold: the page says from when (the server decides, so the
    // button stays: past that time it sends the code).
    const onHold = canEmail && data.emailAvailableAt;
    const hold = onHold && !error
      ? `<p id="email-hold">${t("holdIntro", { email: escape(data.maskedEmail), when: when(data.emailAvailableAt) })}</p>` : "";
    return `<h2 tabindex="-1" id="step-title">${t("matchedTitle")}</h2>
      ${alertBox(error)}
      ${data.options.includes("invoice") ? "" : `<p>${t("linkedElsewhere")}</p>`}
      ${hold}
      ${canEmail ? `${onHold ? "" : `<p>${t("sendCodeIntro", { email: escape(data.maskedEmail) })}</p>`}
        <div class="actions"><button type="button" id="send-code">${t("sendCode")}</button></div>` : `<p>${t("noEmailIntro")}</p>`}
      ${alternatives(data.options, canEmail)}`;
  },

  undelivered: ({ data }) => {
    const paths = alternatives(data.options, true, { primary: true, title: t("otherWayTitle") });
    return `<h2 tabindex="-1" id="step-title">${t("undeliveredTitle")}</h2>
      <div class="alert" id="undelivered"><p>${t(`undelivered_${data.delivery === "complained" ? "complained" : "bounced"}`, { email: escape(data.maskedEmail) })}</p></div>
      ${paths || `<p>${t("undeliveredNoOption")}</p>`}`;
  },

  frozen: () => `<h2 tabindex="-1" id="step-title">${t("frozenTitle")}</h2>
    <div class="alert" id="frozen"><p>${t("frozen")}</p></div>`,

  reportLoading: () => `<h2 tabindex="-1" id="step-title">${t("loading")}</h2>`,

  report: ({ error, data }) => `<h2 tabindex="-1" id="step-title">${t("reportTitle")}</h2>
    ${alertBox(error)}
    <p id="report-what">${t(`report_${data.kind}`, { when: when(data.occurredAt), number: `<strong>${escape(data.maskedCertificateNumber)}</strong>` })}</p>
    <p>${t("reportIfYou")}</p>
    <p>${t(`reportWhatHappens_${data.kind}`)}</p>
    <div class="actions"><button type="button" id="report-confirm">${t("reportConfirm")}</button></div>`,

  reported: ({ data }) => `<h2 tabindex="-1" id="step-title">${t("reportedTitle")}</h2>
    <div class="success" id="reported">
      <p>${t("reported", { reference: `<strong>${escape(data.reference)}</strong>` })}</p>
      <p id="report-done">${t(`${data.undone === false ? "reportedNotUndone" : "reportedDone"}_${data.kind}`)}</p>
      <p>${t("reportedNext")}</p>
    </div>`,

  reportExpired: () => `<h2 tabindex="-1" id="step-title">${t("reportExpiredTitle")}</h2>
    <div class="alert" id="report-expired"><p>${t("error_report_expired")}</p></div>`,

  reportUnavailable: ({ error }) => `<h2 tabindex="-1" id="step-title">${t("reportTitle")}</h2>
    ${alertBox(error || t("error_service_unavailable"))}
    <div class="actions"><button type="button" id="report-retry">${t("retry")}</button></div>`,

  code: ({ error, fields = {}, data }) => `<h2 tabindex="-1" id="step-title">${t("codeTitle")}</h2>
    ${alertBox(error)}
    <p>${t("codeSent", { email: escape(data.maskedEmail), time: formatTime(new Date(data.expiresAt), state.lang) })}</p>
    <form id="verify" novalidate>
      ${field({ id: "code", label: t("code"), hint: t("codeHint"), error: fields.code,
        input: `<input type="text" class="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" maxlength="6" required value="${escape(state.values.code)}">` })}
      <p id="attempts-left">${t("attemptsLeft", { n: data.attemptsLeft })}</p>
      <div class="actions"><button type="submit">${t("verify")}</button>
        <button type="button" class="secondary" id="resend" ${data.sendsLeft > 0 ? "" : "disabled"}>${t("resend")}</button></div>
      <p id="sends-left">${t("sendsLeft", { n: data.sendsLeft })}</p>
    </form>
    ${alternatives(data.options, true)}`,

  invoice: ({ error, fields = {} }) => `<h2 tabindex="-1" id="step-title">${t("invoiceTitle")}</h2>
    ${alertBox(error)}
    <p>${t("invoiceIntro")}</p>
    <form id="invoice" novalidate>
      ${field({ id: "invoice-number", label: t("invoiceNumber"), hint: t("invoiceHint"), error: fields.invoiceNumber,
        input: `<input type="text" autocomplete="off" spellcheck="false" required value="${escape(state.values["invoice-number"])}">` })}
      <div class="actions"><button type="submit">${t("submitInvoice")}</button>
        <button type="button" class="secondary" data-go="back">${t("back")}</button></div>
    </form>`,

  assistance: ({ error, fields = {} }) => {
    const time = state.values["preferred-time"] || "any";
    const callLanguage = state.values["call-language"] || state.lang;
    const radio = (name, value, label, checked) =>
      `<label class="choice"><input type="radio" name="${name}" value="${value}" ${checked ? "checked" : ""}> ${escape(label)}</label>`;
    return `<h2 tabindex="-1" id="step-title">${t("assistanceTitle")}</h2>
      ${alertBox(error)}
      <p>${t("assistanceIntro")}</p>
      <form id="assistance" novalidate>
        <fieldset><legend>${t("preferredTime")}</legend>
          ${radio("preferred-time", "morning", t("morning"), time === "morning")}
          ${radio("preferred-time", "afternoon", t("afternoon"), time === "afternoon")}
          ${radio("preferred-time", "any", t("any"), time === "any")}
        </fieldset>
        <fieldset><legend>${t("callLanguage")}</legend>
          ${radio("call-language", "fr", t("french"), callLanguage === "fr")}
          ${radio("call-language", "en", t("english"), callLanguage === "en")}
        </fieldset>
        ${field({ id: "message", label: t("message"), hint: t("messageHint"), error: fields.message,
          input: `<textarea maxlength="1000">${escape(state.values.message)}</textarea>` })}
        <div class="actions"><button type="submit">${t("submitAssistance")}</button>
          <button type="button" class="secondary" data-go="back">${t("back")}</button></div>
      </form>`;
  },

  assistanceDone: ({ data }) => `<h2 tabindex="-1" id="step-title">${t("assistanceDoneTitle")}</h2>
    <div class="success"><p>${t("assistanceDone", { reference: `<strong>${escape(data.reference)}</strong>` })}</p></div>`,

  linked: ({ data }) => {
    const c = data.certificate;
    return `<h2 tabindex="-1" id="step-title">${t("linkedTitle")}</h2>
      <div class="success"><p>${t("linkedIntro")}</p></div>
      <dl class="summary">
        <dt>${t("summaryNumber")}</dt><dd>${escape(c.number)}</dd>
        <dt>${t("summaryHolder")}</dt><dd>${escape(c.holderName)}</dd>
        <dt>${t("summaryStatus")}</dt><dd>${t(`status_${c.status}`)}</dd>
        <dt>${t("summaryExpiry")}</dt><dd>${escape(formatDate(c.expiryDate, state.lang))}</dd>
      </dl>`;
  },
};

/** `primary`: the paths are the way on (after an undelivered code), not a fallback. */
function alternatives(options, withHeading, { primary = false, title } = {}) {
  const kind = primary ? "" : ' class="secondary"';
  const buttons = [
    options.includes("invoice") ? `<button type="button"${kind} data-go="invoice">${t("useInvoice")}</button>` : "",
    options.includes("assistance") ? `<button type="button"${kind} data-go="assistance">${t("askAssistance")}</button>` : "",
  ].join("");
  if (!buttons) return "";
  return `<section class="alternatives" aria-labelledby="alternatives-title">
    <h3 id="alternatives-title">${title ?? (withHeading ? t("alternativesTitle") : t("matchedTitle"))}</h3>
    <div class="actions">${buttons}</div></section>`;
}

function staticTexts() {
  document.documentElement.lang = state.lang;
  document.title = t("pageTitle");
  for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  const toggle = $("#language-toggle");
  toggle.textContent = t("toggle");
  toggle.lang = t("toggleLang");
}

/** Shows a step. A new step moves focus to its heading; an error moves it to the message. */
function show(name, extra = {}, { focus = "heading" } = {}) {
  const previous = state.view;
  state.view = { name, data: extra.data ?? previous?.data, error: extra.error, fields: extra.fields };
  clearInterval(state.timer);
  clearTimeout(state.poll);
  state.poll = null;
  $("#step").innerHTML = STEPS[name](state.view);
  wire(name);
  if (focus === "heading") $("#step-title")?.focus();
  else if (focus === "error") (document.querySelector("[aria-invalid=true]") || $("#step-error") || $("#step-title"))?.focus();
}

// ---------------------------------------------------------------- behaviour

function remember(form) {
  for (const element of form.elements) {
    if (!element.name) continue;
    if (element.type === "radio") { if (element.checked) state.values[element.name] = element.value; }
    else state.values[element.name] = element.value;
  }
}

function wire(name) {
  for (const form of document.querySelectorAll("#step form")) form.addEventListener("input", () => remember(form));
  for (const button of document.querySelectorAll("[data-go]")) {
    button.addEventListener("click", () => {
      const target = button.dataset.go;
      if (target === "back") return resume();
      show(target, {});
    });
  }
  const on = (selector, event, handler) => $(selector)?.addEventListener(event, handler);
  on("#sign-in", "submit", (e) => { e.preventDefault(); remember(e.target); signIn(state.values["dev-subject"]); });
  on("#lookup", "submit", (e) => { e.preventDefault(); remember(e.target); lookup(); });
  on("#send-code", "click", () => sendCode());
  on("#resend", "click", () => sendCode());
  on("#verify", "submit", (e) => { e.preventDefault(); remember(e.target); verify(); });
  on("#invoice", "submit", (e) => { e.preventDefault(); remember(e.target); invoice(); });
  on("#assistance", "submit", (e) => { e.preventDefault(); remember(e.target); assistance(); });
  on("#report-confirm", "click", () => confirmReport());
  on("#report-retry", "click", () => openReport());
  if (name === "code") {
    countdown();
    watchDelivery();
  }
}

/** How often the page asks whether the code's email was delivered, while it is "sent". */
const DELIVERY_POLL_MS = 3000;

/** While the code's email is only "sent", asks GET /recovery again every few seconds; stops
 * when the delivery changes, the code expires or the holder leaves the step. A bounce (or a
 * complaint) shows the other paths at once. */
function watchDelivery() {
  const view = state.view;
  if (view.data.delivery !== "sent") return;
  const again = () => {
    if (state.view !== view) return;
    state.poll = setTimeout(ask, DELIVERY_POLL_MS);
  };
  const ask = async () => {
    if (state.view !== view || new Date(view.data.expiresAt) <= Date.now()) return;
    const answer = await call("GET", "/recovery");
    if (state.view !== view) return; // the holder moved on meanwhile
    if (answer.status === 0 || answer.status >= 500) return again();
    if (answer.status !== 200 || answer.body.state !== "code_sent") return; // the step was left
    const delivery = answer.body.delivery;
    if (delivery === "sent") return again();
    view.data.delivery = delivery;
    if (failed(delivery)) {
      show("undelivered", { data: answer.body });
      $("#announcer").textContent = t("undeliveredTitle");
    }
  };
  again();
}

const failed = (delivery) => delivery === "bounced" || delivery === "complained";

/** A time the API gave, in the page's language and Québec's time. */
const when = (iso) => escape(formatDateTime(new Date(iso), state.lang));

function countdown() {
  const button = $("#resend");
  const data = state.view.data;
  const tick = () => {
    const seconds = Math.ceil((new Date(data.resendAvailableAt) - Date.now()) / 1000);
    if (data.sendsLeft <= 0) return;
    if (seconds > 0) {
      button.disabled = true;
      button.textContent = t("resendIn", { seconds });
    } else {
      button.disabled = false;
      button.textContent = t("resend");
      clearInterval(state.timer);
    }
  };
  tick();
  state.timer = setInterval(tick, 1000);
}

/** The problems that are about one field: the field is marked and the sentence tied to it. */
const FIELD_OF_PROBLEM = { wrong_code: "code", invoice_not_accepted: "invoiceNumber", invoice_too_old: "invoiceNumber" };

function fieldErrors(answer, names) {
  const fields = {};
  for (const e of answer.body.errors || []) {
    const key = names[e.field] ? e.field : null;
    if (key) fields[key] = e.detail || t("required");
  }
  const field = FIELD_OF_PROBLEM[answer.body.code];
  if (field && names[field]) fields[field] = problemText(answer);
  return fields;
}

/** Answers every citizen route the same way: a state to show, or a problem to explain. */
async function handle(answer, { step, names = {} }) {
  if (answer.status === 401) {
    // Refused right after signing in, before it expires: no ended session (the issuer's new
    // keys not known yet, a wrong issuer…); "sign in again" alone would go in circles.
    const justSignedIn = Date.now() - state.signedInAt < 2 * 60 * 1000 && !expired(state.token);
    setToken(null);
    return show("signIn", { error: justSignedIn ? t("error_refused_after_sign_in") : problemText(answer) }, { focus: "error" });
  }
  if (answer.status >= 200 && answer.status < 300) return showState(answer.body, { justMatched: step === "lookup" });
  if (answer.body.code === "no_recovery_session") {
    return show("lookup", { error: problemText(answer) }, { focus: "error" });
  }
  if (answer.body.code === "recovery_frozen") return show("frozen", { data: null });
  if (answer.body.code === "email_change_pending" && state.view?.data?.options) {
    const data = { ...state.view.data, emailAvailableAt: answer.body.availableAt };
    return show("matched", { data, error: problemText(answer) }, { focus: "error" });
  }
  const error = answer.status === 0 ? t("error_network") : problemText(answer);
  return show(step, { error, fields: fieldErrors(answer, names), data: state.view?.data }, { focus: "error" });
}

async function showState(body, { justMatched = false, focus = "heading" } = {}) {
  switch (body.state) {
    case "matched":
      // While an email change is on hold no code can go out: the page says when instead.
      if (justMatched && body.options.includes("email_code") && !body.emailAvailableAt) {
        state.view = { name: "matched", data: body };
        return sendCode();
      }
      return show("matched", { data: body }, { focus });
    case "code_sent":
      state.values.code = "";
      if (failed(body.delivery)) return show("undelivered", { data: body }, { focus });
      return show("code", { data: body }, { focus });
    case "assistance_requested":
      return show("assistanceDone", { data: body }, { focus });
    case "linked":
      return show("linked", { data: body }, { focus });
    default:
      return show("lookup", {}, { focus });
  }
}

function validate(checks) {
  const fields = {};
  for (const [name, value, test, message] of checks) {
    if (!value || !value.trim()) fields[name] = t("required");
    else if (!test(value.trim())) fields[name] = message;
  }
  return Object.keys(fields).length ? fields : null;
}

async function lookup() {
  const number = state.values["certificate-number"] || "";
  const date = state.values["date-of-birth"] || "";
  const fields = validate([
    ["certificateNumber", number, (v) => /^[A-Za-z0-9 -]{1,40}$/.test(v), t("badCertificate")],
    ["dateOfBirth", date, (v) => /^\d{4}-\d{2}-\d{2}$/.test(v), t("badDate")],
  ]);
  if (fields) return show("lookup", { error: t("errorSummary"), fields }, { focus: "error" });
  const answer = await call("POST", "/recovery/lookup", { certificateNumber: number, dateOfBirth: date.trim() });
  return handle(answer, { step: "lookup", names: { certificateNumber: 1, dateOfBirth: 1 } });
}

async function sendCode() {
  const from = state.view?.name === "code" ? "code" : "matched";
  const answer = await call("POST", "/recovery/code", {});
  return handle(answer, { step: from });
}

async function verify() {
  const code = (state.values.code || "").replace(/\s/g, "");
  const fields = validate([["code", code, (v) => /^\d{6}$/.test(v), t("badCode")]]);
  if (fields) return show("code", { error: t("errorSummary"), fields }, { focus: "error" });
  const answer = await call("POST", "/recovery/verify", { code });
  if (answer.body.code === "wrong_code") state.view.data = { ...state.view.data, attemptsLeft: answer.body.attemptsLeft };
  if (answer.body.code === "too_many_attempts") state.view.data = { ...state.view.data, attemptsLeft: 0 };
  return handle(answer, { step: "code", names: { code: 1 } });
}

async function invoice() {
  const number = state.values["invoice-number"] || "";
  const fields = validate([["invoiceNumber", number, (v) => /^[A-Za-z0-9 -]{1,40}$/.test(v), t("badInvoice")]]);
  if (fields) return show("invoice", { error: t("errorSummary"), fields }, { focus: "error" });
  const answer = await call("POST", "/recovery/invoice", { invoiceNumber: number });
  return handle(answer, { step: "invoice", names: { invoiceNumber: 1 } });
}

async function assistance() {
  const message = (state.values.message || "").trim();
  if (message.length > 1000) return show("assistance", { error: t("errorSummary"), fields: { message: t("tooLong") } }, { focus: "error" });
  const body = { preferredTime: state.values["preferred-time"] || "any", language: state.values["call-language"] || state.lang };
  if (message) body.message = message;
  const answer = await call("POST", "/recovery/assistance", body);
  return handle(answer, { step: "assistance", names: { message: 1 } });
}

// ---------------------------------------------------------------- "this wasn't me"

/** The token of a /signalement/<token> address, or null on any other page. */
function reportToken() {
  const match = location.pathname.match(/^\/signalement\/([^/]+)$/);
  return match ? match[1] : null;
}

/** What the link reports, before the holder confirms. No sign-in: the token is the key. */
async function openReport({ initial = false } = {}) {
  const focus = initial ? "none" : "heading";
  const { token } = state.report;
  // Only a token's shape goes to the API (22 characters of base64url); anything else is no link.
  if (!/^[A-Za-z0-9_-]{22}$/.test(token)) return show("reportExpired", {}, { focus });
  show("reportLoading", {}, { focus: "none" });
  const answer = await call("GET", `/report/${token}`);
  if (answer.status === 200) return show("report", { data: answer.body }, { focus });
  if (answer.body.code === "report_expired") return show("reportExpired", {}, { focus });
  return show("reportUnavailable", { error: answer.status === 0 ? t("error_network") : problemText(answer) }, { focus: "error" });
}

/** A confirmation on its way: a second click sends nothing more. */
let reporting = false;

async function confirmReport() {
  if (reporting) return;
  reporting = true;
  const data = state.view.data;
  $("#report-confirm").disabled = true;
  try {
    const answer = await call("POST", `/report/${state.report.token}`, {});
    if (answer.status === 200) return show("reported", { data: { ...data, ...answer.body } });
    if (answer.body.code === "report_expired") return show("reportExpired", {});
    const error = answer.status === 0 ? t("error_network") : problemText(answer);
    return show("report", { data, error }, { focus: "error" });
  } finally {
    reporting = false;
  }
}

async function resume({ initial = false } = {}) {
  // On page load focus stays at the top (skip link, language toggle); later steps take it.
  const focus = initial ? "none" : "heading";
  if (!state.token) return show("signIn", {}, { focus });
  show("loading", {}, { focus: "none" });
  const answer = await call("GET", "/recovery");
  if (answer.status === 200) return showState(answer.body, { focus });
  return handle(answer, { step: "lookup" });
}

function toggleLanguage() {
  state.lang = state.lang === "fr" ? "en" : "fr";
  sessionStorage.setItem("recovery.lang", state.lang);
  staticTexts();
  if (state.view) show(state.view.name, { data: state.view.data, error: state.view.error && "", fields: {} }, { focus: "none" });
  $("#announcer").textContent = state.lang === "en" ? "Page in English" : "Page en français";
}

async function start() {
  staticTexts();
  $("#language-toggle").addEventListener("click", toggleLanguage);
  state.config = await (await fetch("/config.json")).json();
  const token = reportToken();
  if (token !== null) {
    state.report = { token };
    return openReport({ initial: true });
  }
  try {
    await finishOidcSignIn();
  } catch {
    setToken(null);
    return show("signIn", { error: t("error_sign_in") }, { focus: "error" });
  }
  await resume({ initial: true });
}

start();
