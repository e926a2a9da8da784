// Issue 12 in both pages, against a local API of its own whose notices link to itself
// (HOLDER_PAGE_URL): a link reported with "Ce n'était pas moi" from the link notice, then the
// holder's lookup frozen and the report first in the Office's queue; an employee's email
// change reported from the notice to the old address during its hold; a code refused during
// the hold; a code's email bounced (SES's event through POST /dev/ses-event), seen by the
// holder's page while it waits and by the employee. axe-core on every new screen in French
// and English; screenshots web/tests/screenshots/i12-*.png.

import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { useBrowser, newPage, accessible, unique, lang, focusedId, codeOf, holderSignIn as signIn, lookup } from "./browser.mjs";

const BASE = process.env.REPORT_BASE_URL;
assert.ok(BASE, "REPORT_BASE_URL is set by scripts/web-tests.sh");
const SHOTS = fileURLToPath(new URL("./screenshots/", import.meta.url));
mkdirSync(SHOTS, { recursive: true });

useBrowser("axe (reports, hold, delivery)");

// ---------------------------------------------------------------- helpers

async function api(method, path, token, body) {
  const response = await fetch(`${BASE}${path}`, {
    method,
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: await response.json().catch(() => ({})) };
}

const devToken = async (sub, roles) => (await api("POST", "/dev/token", null, roles ? { sub, roles } : { sub })).body.token;
const staffToken = () => devToken(unique("agent-setup"), ["agent"]);

/** A new account files an assistance request for the file; its reference. */
async function fileRequest(certificate, dateOfBirth) {
  const token = await devToken(unique("holder"));
  assert.equal((await api("POST", "/recovery/lookup", token, { certificateNumber: certificate, dateOfBirth })).status, 200);
  const answer = await api("POST", "/recovery/assistance", token, { preferredTime: "any", language: "fr" });
  assert.equal(answer.status, 201, JSON.stringify(answer.body));
  return answer.body.reference;
}

async function emailsTo(to) {
  const emails = await (await fetch(`${BASE}/dev/outbox`)).json();
  return emails.filter((e) => e.to === to);
}

/** The "this wasn't me" link of the latest notice to `to`. */
async function reportLink(to) {
  const notices = (await emailsTo(to)).filter((e) => e.text.includes("/signalement/"));
  assert.ok(notices.length, `a notice with a "this wasn't me" link to ${to}`);
  const url = notices.at(-1).text.match(/https?:\/\/\S+\/signalement\/[A-Za-z0-9_-]{22}/)?.[0];
  assert.ok(url, notices.at(-1).text);
  assert.ok(url.startsWith(`${BASE}/signalement/`), `${url} leads to this page`);
  return url;
}

const heading = async (page, id = "#step-title") => (await page.locator(id).textContent()).trim();

/** Spaces as spaces (ICU puts narrow no-break ones in times; Node's and Chromium's may differ). */
const plain = (text) => text.replace(/\s/g, " ");

/** A date and time as both pages write it (fr-CA / en-CA, Québec's time). */
const dateTime = (iso, l) =>
  plain(new Intl.DateTimeFormat(l === "en" ? "en-CA" : "fr-CA", { dateStyle: "long", timeStyle: "short", timeZone: "America/Toronto" })
    .format(new Date(iso)));

/** The text of an element, its spaces plain. */
const textOf = async (page, selector) => plain(await page.textContent(selector));

async function shot(page, name) {
  const l = await lang(page);
  await accessible(page, `${name} (${l})`);
  await page.screenshot({ path: `${SHOTS}/${name}-${l}.png`, fullPage: true });
}

/** Checked and screenshotted in the page's language, then in the other, then back. */
async function bothLanguages(page, name, check = async () => {}) {
  await check(await lang(page));
  await shot(page, name);
  await page.click("#language-toggle");
  await check(await lang(page));
  await shot(page, name);
  await page.click("#language-toggle");
}

const holderSignIn = (page, subject = unique("holder")) => signIn(page, subject);

async function staffSignIn(page) {
  await page.waitForSelector("#sign-in");
  await page.fill("#dev-subject", unique("agent"));
  await page.click("#sign-in button[type=submit]");
  await page.waitForSelector("#queue-refresh");
}

// ---------------------------------------------------------------- the tests

test("a link reported from its notice: the account is unlinked, the holder's lookup is frozen, the report heads the queue", async () => {
  // An older request in the queue, not reported: the report must still come first.
  const older = await fileRequest("AG-100003", "1990-11-02");

  // The holder links with the emailed code.
  const holder = await newPage(`${BASE}/`);
  await holderSignIn(holder);
  await lookup(holder, "AG-100001", "1980-02-29");
  await holder.waitForSelector("#verify");
  await holder.fill("#code", codeOf((await emailsTo("jeanne.tremblay@exemple.ca")).at(-1)));
  await holder.click("#verify button[type=submit]");
  await holder.waitForSelector(".summary");

  // The link notice's "this wasn't me" link, opened where nobody is signed in.
  const url = await reportLink("jeanne.tremblay@exemple.ca");
  const report = await newPage(url);
  await report.waitForSelector("#report-confirm");
  assert.equal(await heading(report), "Ce n’était pas vous?");
  assert.equal(await report.locator("#sign-in").count(), 0, "no sign-in");
  assert.match(await textOf(report, "#report-what"),
    /^Le \d{1,2} \S+ 20\d\d à \d{1,2} h \d{2}, votre dossier de certificat •••001 a été associé à un compte en ligne\.$/);
  assert.match(await report.textContent("#step"), /le compte sera dissocié de votre dossier/i);
  await bothLanguages(report, "i12-1-report-link", async (l) => {
    if (l === "en") {
      assert.match(await textOf(report, "#report-what"),
        /^On \S+ \d{1,2}, 20\d\d(,| at) \d{1,2}:\d{2}\s?[ap]\.m\., your certificate file •••001 was linked to an online account\.$/);
      assert.equal((await report.textContent("#report-confirm")).trim(), "This wasn't me");
    } else {
      assert.equal((await report.textContent("#report-confirm")).trim(), "Ce n’était pas moi");
    }
  });

  // Confirmed: the reference, what was done, the freeze and the call.
  await report.click("#report-confirm");
  await report.waitForSelector("#reported");
  assert.equal(await heading(report), "Signalement reçu");
  assert.equal(await focusedId(report), "step-title");
  const reference = (await report.textContent("#reported strong")).trim();
  assert.match(reference, /^AR-[0-9A-Z]{4}-[0-9A-Z]{4}$/);
  const done = await report.textContent("#reported");
  assert.match(done, /Le compte a été dissocié de votre dossier\./);
  assert.match(done, /récupération en ligne de votre dossier est maintenant suspendue/);
  assert.match(done, /vous appellera au numéro de téléphone inscrit à votre dossier/);
  await bothLanguages(report, "i12-2-reported-link", async (l) => {
    if (l === "en") assert.match(await report.textContent("#reported"), /The account was unlinked from your file\..*will call you at the phone number on file/s);
  });

  // The link is single use.
  await report.reload();
  await report.waitForSelector("#report-expired");
  assert.equal(await heading(report), "Lien expiré");
  assert.match(await report.textContent("#report-expired"), /déjà servi.*communiquez avec l’Office/);
  await bothLanguages(report, "i12-3-report-expired");
  await report.context().close();

  // The holder's account lost the file; a new lookup says recovery is frozen, with no options.
  await holder.reload();
  await holder.waitForSelector("#lookup");
  await lookup(holder, "AG-100001", "1980-02-29");
  await holder.waitForSelector("#frozen");
  assert.equal(await heading(holder), "Récupération en ligne suspendue");
  assert.match(await holder.textContent("#frozen"), /signalement « Ce n’était pas moi ».*suspendue.*vous appellera au numéro de téléphone/);
  assert.equal(await holder.locator("[data-go], #send-code, #verify").count(), 0, "no options");
  await bothLanguages(holder, "i12-4-frozen");

  // The Office's queue: the report first, with its badge; the older request after it.
  const staff = await newPage(`${BASE}/agent/`);
  await staffSignIn(staff);
  await staff.waitForSelector("ol.queue");
  const cards = staff.locator(".request-card");
  assert.match(await cards.first().textContent(), new RegExp(reference));
  assert.match(await cards.first().locator(".badge").textContent(), /Signalement « Ce n’était pas moi »/);
  const olderCard = staff.locator(".request-card", { hasText: older });
  assert.equal(await olderCard.locator(".badge").count(), 0);
  const refs = await staff.locator(".request-card h3 a").allTextContents();
  assert.ok(refs.findIndex((r) => r.includes(reference)) < refs.findIndex((r) => r.includes(older)), "the report before the older request");
  await bothLanguages(staff, "i12-5-queue-reported", async (l) => {
    if (l === "en") assert.match(await staff.locator(".request-card").first().locator(".badge").textContent(), /“This wasn’t me” report/);
  });

  // The request: what was reported, and that closing it lifts the freeze.
  await staff.click(`a[href="#/request/${reference}"]`);
  await staff.waitForSelector("#report-notice");
  const notice = await staff.textContent("#report-notice");
  assert.match(notice, /a répondu « Ce n’était pas moi » à l’avis d’association/);
  assert.match(notice, /Fermer cette demande, quel qu’en soit le résultat, lève la suspension/);
  assert.match(await staff.textContent("#view"), /Jeanne Tremblay/);
  await bothLanguages(staff, "i12-6-request-reported", async (l) => {
    if (l === "en") assert.match(await staff.textContent("#report-notice"), /Closing this request, whatever the outcome, lifts the suspension/);
  });
  // The trail tells who reported and what it did, in words.
  await staff.click("#full-audit");
  await staff.waitForSelector("#audit-events");
  const trail = await staff.textContent("#audit-events");
  assert.match(trail, /Signalement « Ce n’était pas moi » : signalement confirmé/);
  assert.match(trail, /Le destinataire de l’avis d’association \(lien « Ce n’était pas moi »\)/);
  assert.match(trail, /Retrait de l’association : association retirée à la suite d’un signalement/);
  assert.match(trail, /Recherche du dossier : refusé : récupération en ligne suspendue après un signalement/);
  await staff.goto(`${BASE}/agent/#/request/${reference}`);
  await staff.waitForSelector("#resolve");
  // Closed (any outcome): the holder's lookup is no longer frozen.
  await staff.check("input[name=outcome][value=unreachable]");
  await staff.click("#resolve button[type=submit]");
  await staff.waitForSelector("#flash");
  await holder.goto(`${BASE}/`);
  await holder.waitForSelector("#lookup");
  await lookup(holder, "AG-100001", "1980-02-29");
  await holder.waitForSelector("#verify, #send-code");
  assert.equal(await holder.locator("#frozen").count(), 0);
  await holder.context().close();
  await staff.context().close();
});

test("an employee's email change reported from the notice to the old address, during the hold: the old address is back", async () => {
  const reference = await fileRequest("AG-100002", "1975-06-15");
  const staff = await newPage(`${BASE}/agent/`);
  await staffSignIn(staff);
  await staff.goto(`${BASE}/agent/#/request/${reference}`);
  await staff.waitForSelector("#resolve");
  await staff.check("input[name=outcome][value=email_updated]");
  await staff.fill("#new-email", "nouvelle.adresse@courriel.ca");
  await staff.fill("#new-email-again", "nouvelle.adresse@courriel.ca");
  await staff.click("#resolve button[type=submit]");
  await staff.waitForSelector("#confirm-change");
  await staff.click("#confirm-change");
  await staff.waitForSelector("#flash");
  // The flash tells the hold's end.
  assert.match(await textOf(staff, "#flash"),
    new RegExp(`Demande ${reference} fermée : .* Par sécurité, un code pourra y être envoyé à partir du \\d{1,2} \\S+ 20\\d\\d à \\d{1,2} h \\d{2}`));
  await bothLanguages(staff, "i12-7-resolved-on-hold", async (l) => {
    if (l === "en") assert.match(await staff.textContent("#flash"), /For security, a code can be sent to it from/);
  });

  // The notice to the old address carries the link.
  const url = await reportLink("sam.roy@example.com");
  const report = await newPage(url);
  await report.waitForSelector("#report-confirm");
  assert.match(await textOf(report, "#report-what"),
    /^Le \d{1,2} \S+ 20\d\d à \d{1,2} h \d{2}, l’adresse courriel de votre dossier de certificat •••002 a été modifiée par un employé de l’Office\.$/);
  await bothLanguages(report, "i12-8-report-email-change", async (l) => {
    if (l === "en") assert.match(await report.textContent("#report-what"), /the email address of your certificate file •••002 was changed by an Office employee\.$/);
  });
  await report.click("#report-confirm");
  await report.waitForSelector("#reported");
  assert.match(await report.textContent("#report-done"), /^Votre ancienne adresse courriel est rétablie à votre dossier\.$/);
  const reportReference = (await report.textContent("#reported strong")).trim();
  await bothLanguages(report, "i12-9-reported-email-change", async (l) => {
    if (l === "en") assert.match(await report.textContent("#report-done"), /^Your old email address is back on your file\.$/);
  });
  await report.context().close();

  // The employee sees the report and, on file, the old address again (s•••, not n•••).
  await staff.goto(`${BASE}/agent/#/request/${reportReference}`);
  await staff.waitForSelector("#report-notice");
  assert.match(await staff.textContent("#report-notice"), /à l’avis de changement de l’adresse courriel du dossier/);
  assert.match(await staff.textContent("#view"), /Courriel au dossier\s*s•••@e•••\.com/);
  await bothLanguages(staff, "i12-10-request-email-change-reported");
  await staff.context().close();
});

test("during an email change's hold, the lookup and the code request say from when a code can be sent", async () => {
  const reference = await fileRequest("AG-100006", "1992-08-14");
  const resolved = await api("POST", `/agent/assistance-requests/${reference}/resolve`, await staffToken(),
    { outcome: "email_updated", newEmail: "o.martin@courriel.ca" });
  assert.equal(resolved.status, 200, JSON.stringify(resolved.body));
  assert.ok(resolved.body.emailHoldUntil, "the change is on hold");

  const holder = await newPage(`${BASE}/`);
  await holderSignIn(holder);
  const requests = [];
  holder.on("request", (r) => { if (r.method() === "POST" && r.url().endsWith("/recovery/code")) requests.push(r.url()); });
  await lookup(holder, "AG-100006", "1992-08-14");
  await holder.waitForSelector("#email-hold");
  assert.equal(requests.length, 0, "no code asked for after the lookup while the change is on hold");
  const token = await holder.evaluate(() => sessionStorage.getItem("recovery.token"));
  const state = (await api("GET", "/recovery", token)).body;
  assert.equal(state.state, "matched");
  assert.ok(state.emailAvailableAt);
  assert.equal(await textOf(holder, "#email-hold"),
    `Par sécurité, un code pourra être envoyé à la nouvelle adresse o•••@c•••.ca seulement à partir du ${dateTime(state.emailAvailableAt, "fr")}. D’ici là, vous pouvez utiliser une facture ou demander l’aide d’un employé.`);
  assert.equal(await holder.locator("[data-go=invoice]").count(), 1);
  assert.equal(await holder.locator("[data-go=assistance]").count(), 1);
  await bothLanguages(holder, "i12-11-lookup-on-hold", async (l) => {
    if (l === "en") assert.ok((await textOf(holder, "#email-hold")).includes(`no code can be sent to the new address o•••@c•••.ca before ${dateTime(state.emailAvailableAt, "en")};`));
  });

  // The code request is refused (409 email_change_pending): the same date and time, focused.
  await holder.click("#send-code");
  await holder.waitForSelector("[role=alert]");
  assert.equal(requests.length, 1);
  assert.equal(await focusedId(holder), "step-error");
  const alert = await textOf(holder, "[role=alert]");
  assert.match(alert, /Votre adresse courriel vient d’être modifiée par l’Office\./);
  assert.ok(alert.includes(`seulement à partir du ${dateTime(state.emailAvailableAt, "fr")}.`), alert);
  await shot(holder, "i12-12-code-refused-on-hold");
  await holder.click("#language-toggle");
  await holder.click("#send-code");
  await holder.waitForFunction(() => /Your email address was just changed by the Office/.test(document.querySelector("[role=alert]")?.textContent));
  assert.ok((await textOf(holder, "[role=alert]")).includes(`no code can be sent to it before ${dateTime(state.emailAvailableAt, "en")};`));
  await shot(holder, "i12-12-code-refused-on-hold");
  await holder.context().close();
});

test("a code's email bounces: the waiting page offers the invoice and assistance at once, and the employee sees the bounce", async () => {
  const holder = await newPage(`${BASE}/`);
  await holderSignIn(holder);
  const polls = [];
  holder.on("request", (r) => { if (r.method() === "GET" && new URL(r.url()).pathname === "/recovery") polls.push(Date.now()); });
  await lookup(holder, "AG-100007", "1979-12-03");
  await holder.waitForSelector("#verify");
  const email = (await emailsTo("eric.pelletier@exemple.ca")).at(-1);
  assert.ok(email.messageId, "the outbox gives the message's id");
  // The page asks again while the email is only "sent".
  await new Promise((r) => setTimeout(r, 3500));
  assert.ok(polls.length >= 1, "the page asked whether the email was delivered");

  const event = await fetch(`${BASE}/dev/ses-event`, { method: "POST", body: JSON.stringify({ messageId: email.messageId, eventType: "Bounce" }) });
  assert.equal(event.status, 204);
  await holder.waitForSelector("#undelivered", { timeout: 15000 });
  assert.equal(await heading(holder), "Le courriel n’a pas pu être livré");
  assert.match(await holder.textContent("#undelivered"), /n’a pas pu être livré à l’adresse e•••@e•••\.ca/);
  assert.equal(await holder.locator("#verify").count(), 0, "no code to wait for");
  assert.equal((await holder.textContent("[data-go=invoice]")).trim(), "Utiliser une facture");
  assert.equal((await holder.textContent("[data-go=assistance]")).trim(), "Demander l’aide d’un employé");
  const after = polls.length;
  await bothLanguages(holder, "i12-13-undelivered", async (l) => {
    if (l === "en") assert.match(await holder.textContent("#undelivered"), /could not be delivered to e•••@e•••\.ca/);
  });
  await new Promise((r) => setTimeout(r, 3500));
  assert.equal(polls.length, after, "the page stopped asking");

  // The assistance path at once; the employee sees the bounce and its date.
  await holder.click("[data-go=assistance]");
  await holder.click("#assistance button[type=submit]");
  await holder.waitForSelector(".success");
  const reference = (await holder.textContent(".success strong")).trim();
  const request = (await api("GET", `/agent/assistance-requests/${reference}`, await staffToken())).body;
  assert.equal(request.emailDelivery?.state, "bounced", JSON.stringify(request));
  const staff = await newPage(`${BASE}/agent/`);
  await staffSignIn(staff);
  await staff.goto(`${BASE}/agent/#/request/${reference}`);
  await staff.waitForSelector("#email-delivery");
  assert.ok((await textOf(staff, "#email-delivery")).includes(`L’adresse courriel du dossier a été refusée (rebond) le ${dateTime(request.emailDelivery.at, "fr")}.`));
  await bothLanguages(staff, "i12-14-request-bounced", async (l) => {
    if (l === "en") {
      assert.ok((await textOf(staff, "#email-delivery")).includes(`On ${dateTime(request.emailDelivery.at, "en")}, the file’s email address was refused (bounce).`));
    }
  });
  await staff.click("#full-audit");
  await staff.waitForSelector("#audit-events");
  assert.match(await staff.textContent("#audit-events"), /Livraison d’un courriel : refusé par le serveur du destinataire \(rebond\).*Service de courriel \(ses\)/s);
  await bothLanguages(staff, "i12-15-audit-bounced", async (l) => {
    if (l === "en") assert.match(await staff.textContent("#audit-events"), /Email delivery: refused by the recipient’s server \(bounce\).*Mail service \(ses\)/s);
  });
  await holder.context().close();
  await staff.context().close();
});

test("a complaint about the code's email is told like a bounce, and a malformed link like an expired one", async () => {
  const holder = await newPage(`${BASE}/`);
  await holderSignIn(holder);
  await lookup(holder, "AG-100008", "1988-03-22");
  await holder.waitForSelector("#verify");
  const email = (await emailsTo("chloe.fortin@exemple.ca")).at(-1);
  const event = await fetch(`${BASE}/dev/ses-event`, { method: "POST", body: JSON.stringify({ messageId: email.messageId, eventType: "Complaint" }) });
  assert.equal(event.status, 204);
  await holder.waitForSelector("#undelivered", { timeout: 15000 });
  assert.match(await holder.textContent("#undelivered"), /n’a pas pu être livré à l’adresse c•••@e•••\.ca : il a été signalé comme indésirable/);
  // Back on the page later: GET /recovery says the same at once.
  await holder.reload();
  await holder.waitForSelector("#undelivered");
  assert.equal(await holder.locator("[data-go=assistance]").count(), 1);
  await holder.context().close();

  // Not a token's shape: no call to the API, the same sentence as a used link.
  const page = await newPage(`${BASE}/signalement/pas-un-jeton`);
  const reports = [];
  page.on("request", (r) => { if (new URL(r.url()).pathname.startsWith("/report/")) reports.push(r.url()); });
  await page.waitForSelector("#report-expired");
  assert.equal(reports.length, 0);
  // A token's shape that the API does not know: its 410, the same sentence.
  await page.goto(`${BASE}/signalement/AAAAAAAAAAAAAAAAAAAAAA`);
  await page.waitForSelector("#report-expired");
  assert.equal(await heading(page), "Lien expiré");
  await page.context().close();
});
