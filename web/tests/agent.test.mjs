// The Office's page (web/agent/) in Debian's Chromium with playwright-core, against its own
// local API (so the holder's page's tests and these never share a queue): a holder files an
// assistance request in the holder's page, an employee works it in the Office's page, and the
// holder then receives the code at the new address and links — one test across both pages;
// the other two outcomes; a double resolve; the queue's paging; a citizen token refused;
// keyboard-only use at 320 px. axe-core on every step in French and English, a screenshot of
// each step (agent-*.png) under $SCREENSHOT_DIR.

import { test } from "node:test";
import assert from "node:assert/strict";
import { SHOTS, useBrowser, newPage as openPage, accessible, unique, lang, focusedId, codeOf } from "./browser.mjs";

const BASE = process.env.AGENT_BASE_URL;
assert.ok(BASE, "AGENT_BASE_URL is set by scripts/web-tests.sh");

useBrowser("axe (Office's page)");

const newPage = (path, viewport) => openPage(`${BASE}${path}`, viewport ? { viewport } : {});

async function heading(page, id = "#view-title") {
  return (await page.locator(id).textContent()).trim();
}

async function shot(page, name) {
  const l = await lang(page);
  await accessible(page, `${name} (${l})`);
  await page.screenshot({ path: `${SHOTS}/${name}-${l}.png`, fullPage: true });
}

/** The step checked and screenshotted in the page's language, then in the other, then back. */
async function bothLanguages(page, name, check = async () => {}) {
  await shot(page, name);
  await page.click("#language-toggle");
  await check(await lang(page));
  await shot(page, name);
  await page.click("#language-toggle");
  await check(await lang(page));
}

// ---------------------------------------------------------------- API helpers (setting up)

async function api(method, path, token, body) {
  const response = await fetch(`${BASE}${path}`, {
    method,
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: await response.json().catch(() => ({})) };
}

async function devToken(sub, roles) {
  return (await api("POST", "/dev/token", null, roles ? { sub, roles } : { sub })).body.token;
}

/** A holder (a new account) files an assistance request for a file; its reference. */
async function fileRequest(certificate, dateOfBirth, { preferredTime = "any", language = "fr", message } = {}) {
  const token = await devToken(unique("holder"));
  assert.equal((await api("POST", "/recovery/lookup", token, { certificateNumber: certificate, dateOfBirth })).status, 200);
  const body = { preferredTime, language, ...(message ? { message } : {}) };
  const answer = await api("POST", "/recovery/assistance", token, body);
  assert.equal(answer.status, 201, JSON.stringify(answer.body));
  return answer.body.reference;
}

async function openReferences() {
  const token = await devToken("agent-setup", ["agent"]);
  const refs = [];
  let next;
  do {
    const answer = await api("GET", `/agent/assistance-requests?status=open&limit=100${next ? `&next=${encodeURIComponent(next)}` : ""}`, token);
    refs.push(...answer.body.items.map((i) => i.reference));
    next = answer.body.next;
  } while (next);
  return refs;
}

// ---------------------------------------------------------------- page helpers

async function staffSignIn(page, subject = unique("agent"), { agent = true } = {}) {
  await page.waitForSelector("#sign-in");
  await page.fill("#dev-subject", subject);
  if (!agent) await page.uncheck("#dev-agent");
  await page.click("#sign-in button[type=submit]");
}

async function openRequest(page, reference) {
  await page.goto(`${BASE}/agent/#/request/${reference}`);
  await page.waitForSelector("#resolve, .closed");
  assert.equal(await heading(page), reference.replace(/^/, await lang(page) === "fr" ? "Demande " : "Request "));
}

async function latestCode(to) {
  const emails = await (await fetch(`${BASE}/dev/outbox`)).json();
  const mine = emails.filter((e) => e.to === to);
  assert.ok(mine.length, `an email to ${to}`);
  return codeOf(mine.at(-1));
}

// ---------------------------------------------------------------- the tests

test("a holder's request, worked in the Office's page with a new email; the holder then links with the code sent there", async () => {
  // The holder, in the holder's page: a file with no email and no invoice, so: assistance.
  const holder = await newPage("/");
  await holder.fill("#dev-subject", unique("nadia"));
  await holder.click("#sign-in button[type=submit]");
  await holder.waitForSelector("#lookup");
  await holder.fill("#certificate-number", "AG-100005");
  await holder.fill("#date-of-birth", "1985-04-05");
  await holder.click("#lookup button[type=submit]");
  await holder.click("[data-go=assistance]");
  await holder.check("input[name=preferred-time][value=afternoon]");
  await holder.check("input[name=call-language][value=en]");
  await holder.fill("#message", "Mon ancienne adresse n’existe plus. Appelez-moi après 14 h.");
  await holder.click("#assistance button[type=submit]");
  await holder.waitForSelector(".success");
  const reference = (await holder.textContent(".success strong")).trim();
  assert.match(reference, /^AR-[0-9A-Z]{4}-[0-9A-Z]{4}$/);
  await holder.screenshot({ path: `${SHOTS}/agent-0-holder-request-fr.png`, fullPage: true });

  // Another account tries the file with a wrong date of birth: its attempt must not read as the
  // holder's own when the employee looks at what was tried.
  const impostor = await devToken(unique("impostor"));
  await api("POST", "/recovery/lookup", impostor, { certificateNumber: "AG-100005", dateOfBirth: "1985-04-06" });

  // The employee: sign-in.
  const staff = await newPage("/agent/");
  assert.equal(await heading(staff), "Connexion des employés");
  assert.equal(await staff.locator("#sign-out").isHidden(), true);
  await bothLanguages(staff, "agent-1-sign-in", async (l) => {
    assert.equal(await heading(staff), l === "fr" ? "Connexion des employés" : "Staff sign-in");
  });
  // The language toggle stays readable under the mouse (white on the banner's dark blue).
  await staff.hover("#language-toggle");
  assert.equal(await staff.$eval("#language-toggle", (e) => getComputedStyle(e).color), "rgb(255, 255, 255)");
  await staffSignIn(staff);

  // The queue: the request just filed, with its age, name, phone, preferred time, language.
  await staff.waitForSelector("ol.queue");
  assert.equal(await heading(staff), "Demandes ouvertes");
  assert.equal(await focusedId(staff), "view-title", "focus moves to the new view's heading");
  assert.equal(await staff.locator("#sign-out").isVisible(), true);
  let card = staff.locator(".request-card", { hasText: reference });
  assert.equal(await card.count(), 1, "the holder's request is in the queue");
  let cardText = await card.textContent();
  assert.match(cardText, /Nadia Bouchard/);
  assert.match(cardText, /450-555-0105/);
  assert.match(cardText, /Après-midi/);
  assert.match(cardText, /Langue de l’appel\s*Anglais/);
  assert.match(cardText, /Ouverte (à l’instant|maintenant|il y a \d+ minutes?)/);
  await bothLanguages(staff, "agent-2-queue", async (l) => {
    const text = await staff.locator(".request-card", { hasText: reference }).textContent();
    assert.match(text, l === "fr" ? /Après-midi/ : /Afternoon/);
    if (l === "en") assert.match(text, /Opened (now|\d+ minutes? ago)/);
  });

  // The request: contact details (email masked, here none), the message, what the holder
  // tried, what to confirm on the phone.
  await staff.click(`a[href="#/request/${reference}"]`);
  await staff.waitForSelector("#resolve");
  assert.equal(await heading(staff), `Demande ${reference}`);
  const view = await staff.textContent("#view");
  assert.match(view, /Aucune adresse courriel au dossier/);
  assert.match(view, /Mon ancienne adresse n’existe plus/);
  assert.match(view, /À confirmer au téléphone/);
  assert.match(view, /Appelez seulement le numéro inscrit au dossier/);
  const tried = await staff.textContent("#tried");
  assert.match(tried, /Recherche du dossier : le numéro et la date de naissance correspondent/);
  assert.match(tried, /Demande d’aide : demande ouverte/);
  assert.match(tried, /Le compte qui a fait la demande/, "the requester's own attempts are marked");
  assert.match(tried, /Un autre compte/, "another account's attempt is told apart");
  assert.doesNotMatch(tried, /Consultation/, "only the holder's own steps");
  assert.doesNotMatch(view, /1985-04-05/, "never a date of birth");
  await bothLanguages(staff, "agent-3-request", async (l) => {
    if (l === "en") assert.match(await staff.textContent("#tried"), /File lookup: the number and date of birth match/);
  });

  // email_updated: the two addresses must match.
  await staff.check("input[name=outcome][value=email_updated]");
  assert.equal(await staff.locator("#new-email").isVisible(), true);
  await staff.fill("#new-email", "nadia.bouchard@example.com");
  await staff.fill("#new-email-again", "nadia.bouchard@exemple.com");
  await staff.click("#resolve button[type=submit]");
  await staff.waitForSelector("#new-email-again-error");
  assert.match(await staff.textContent("#new-email-again-error"), /ne sont pas identiques/);
  assert.equal(await focusedId(staff), "new-email-again", "focus goes to the field in error");
  assert.equal(await staff.getAttribute("#new-email-again", "aria-invalid"), "true");
  await bothLanguages(staff, "agent-4-emails-differ", async (l) => {
    assert.match(await staff.textContent("#new-email-again-error"), l === "fr" ? /ne sont pas identiques/ : /are not the same/);
  });
  await staff.fill("#new-email", "pas-une-adresse");
  await staff.fill("#new-email-again", "pas-une-adresse");
  await staff.click("#resolve button[type=submit]");
  await staff.waitForSelector("#new-email-error");
  assert.match(await staff.textContent("#new-email-error"), /adresse courriel complète/);
  await staff.fill("#new-email", "nadia.bouchard@example.com");
  await staff.fill("#new-email-again", "nadia.bouchard@example.com");
  await staff.click("#resolve button[type=submit]");

  // The confirmation step: old and new addresses.
  await staff.waitForSelector("#confirm-change");
  assert.equal(await heading(staff), "Confirmer le changement d’adresse");
  const change = await staff.textContent("dl.change");
  assert.match(change, /Adresse actuelle\s*Aucune adresse courriel au dossier/);
  assert.match(change, /Nouvelle adresse courriel\s*nadia\.bouchard@example\.com/);
  await bothLanguages(staff, "agent-5-confirm-change", async (l) => {
    assert.equal(await heading(staff), l === "fr" ? "Confirmer le changement d’adresse" : "Confirm the address change");
  });
  // "Change" goes back to the form with what was typed.
  await staff.click("#edit-change");
  assert.equal(await staff.inputValue("#new-email"), "nadia.bouchard@example.com");
  assert.equal(await focusedId(staff), "new-email");
  await staff.click("#resolve button[type=submit]");
  await staff.click("#confirm-change");

  // Back to the queue with a status message; the request has left it.
  await staff.waitForSelector("#flash");
  assert.equal(new URL(staff.url()).hash, "#/");
  assert.match(await staff.textContent("#flash"), new RegExp(`Demande ${reference} fermée : l’adresse courriel du dossier AG100005 est mise à jour`));
  assert.equal(await staff.locator(".request-card", { hasText: reference }).count(), 0);
  await bothLanguages(staff, "agent-6-resolved", async (l) => {
    assert.match(await staff.textContent("#flash"), l === "fr" ? /fermée/ : new RegExp(`Request ${reference} closed: the email address of file AG100005 is updated`));
  });

  // The file's audit trail, newest first, in words; never the full address.
  await staff.goto(`${BASE}/agent/#/audit/AG100005`);
  await staff.waitForSelector("#audit-events");
  assert.equal(await heading(staff), "Historique du dossier AG100005");
  const events = await staff.locator("#audit-events .event-what").allTextContents();
  assert.match(events[0], /Consultation de l’historique : consultée/, "this very viewing heads the trail");
  assert.ok(events.some((e) => /Fermeture d’une demande d’aide : identité confirmée, adresse courriel mise à jour/.test(e)));
  assert.ok(events.some((e) => /Changement de l’adresse courriel : avis envoyé à la nouvelle adresse/.test(e)));
  assert.ok(events.at(-1).match(/Recherche du dossier/), "the holder's lookup, oldest, last");
  const times = await staff.locator("#audit-events time").evaluateAll((ts) => ts.map((t) => t.dateTime));
  assert.deepEqual([...times].sort().reverse(), times, "newest first");
  assert.match(await staff.textContent("#audit-events"), /Employé agent-/);
  assert.match(await staff.textContent("#audit-events"), /\d{4} (à )?\d{1,2} h \d{2}/, "times in fr-CA");
  assert.doesNotMatch(await staff.textContent("#view"), /nadia\.bouchard@example\.com/);
  await bothLanguages(staff, "agent-7-audit", async (l) => {
    if (l === "en") assert.match(await staff.textContent("#audit-events"), /Audit trail viewed: viewed/);
  });

  // The holder redoes the recovery: the code goes to the new address, and the account links.
  await holder.reload();
  await holder.waitForSelector("#lookup, #send-code, #verify");
  if (await holder.locator("#lookup").count()) {
    await holder.fill("#certificate-number", "AG-100005");
    await holder.fill("#date-of-birth", "1985-04-05");
    await holder.click("#lookup button[type=submit]");
    await holder.waitForSelector("#send-code, #verify");
  }
  if (await holder.locator("#send-code").count()) await holder.click("#send-code");
  await holder.waitForSelector("#verify");
  assert.match(await holder.textContent("#step"), /n•••@e•••\.com/);
  await holder.fill("#code", await latestCode("nadia.bouchard@example.com"));
  await holder.click("#verify button[type=submit]");
  await holder.waitForSelector(".summary");
  assert.match(await holder.textContent(".summary"), /AG100005/);
  await holder.screenshot({ path: `${SHOTS}/agent-8-holder-linked-fr.png`, fullPage: true });
  await holder.context().close();
  await staff.context().close();
});

test("the other two outcomes, and a second resolve's 409 as a sentence", async () => {
  const notConfirmed = await fileRequest("AG-100002", "1975-06-15", { language: "en", preferredTime: "morning" });
  const unreachable = await fileRequest("AG-100003", "1990-11-02");
  const hostile = `<img src=x onerror="window.pwned=1"><script>window.pwned=2</script>`;
  const twice = await fileRequest("AG-100006", "1992-08-14", { language: "en", message: hostile });

  const staff = await newPage("/agent/");
  await staffSignIn(staff);
  await staff.waitForSelector("#queue-refresh");

  // identity_not_confirmed, in French; the masked email on file is shown.
  await openRequest(staff, notConfirmed);
  assert.match(await staff.textContent("#view"), /s•••@e•••\.com/);
  await staff.check("input[name=outcome][value=identity_not_confirmed]");
  assert.equal(await staff.locator("#new-email").isVisible(), false);
  assert.equal((await staff.textContent("#resolve button[type=submit]")).trim(), "Fermer la demande");
  await staff.click("#resolve button[type=submit]");
  await staff.waitForSelector("#flash");
  assert.match(await staff.textContent("#flash"), new RegExp(`Demande ${notConfirmed} fermée : identité non confirmée. Rien n’a changé au dossier AG100002`));
  await bothLanguages(staff, "agent-9-identity-not-confirmed");

  // unreachable, in English.
  await staff.click("#language-toggle");
  await openRequest(staff, unreachable);
  await staff.check("input[name=outcome][value=unreachable]");
  await staff.click("#resolve button[type=submit]");
  await staff.waitForSelector("#flash");
  assert.match(await staff.textContent("#flash"), new RegExp(`Request ${unreachable} closed: holder could not be reached. Nothing changed in file AG100003`));
  await shot(staff, "agent-10-unreachable");
  await staff.click("#language-toggle");
  await shot(staff, "agent-10-unreachable");

  // A holder's message is text, never markup, in the employee's page.
  await openRequest(staff, twice);
  assert.equal(await staff.textContent("blockquote.message"), hostile);
  assert.equal(await staff.locator("blockquote.message img, blockquote.message script").count(), 0);
  assert.equal(await staff.evaluate(() => window.pwned), undefined);

  // No outcome chosen: a sentence tied to the choice.
  await staff.click("#resolve button[type=submit]");
  await staff.waitForSelector("#outcome-error");
  assert.match(await staff.textContent("#outcome-error"), /Choisissez le résultat de l’appel/);
  await bothLanguages(staff, "agent-11-no-outcome");

  // Two employees on the same request: the second to close it reads why nothing changed.
  const other = await newPage("/agent/");
  await staffSignIn(other, "agent-collegue");
  await other.waitForSelector("#queue-refresh");
  await openRequest(other, twice);
  await other.check("input[name=outcome][value=unreachable]");
  await other.click("#resolve button[type=submit]");
  await other.waitForSelector("#flash");
  await staff.check("input[name=outcome][value=identity_not_confirmed]");
  await staff.click("#resolve button[type=submit]");
  // (The alert of the missing outcome is still there until the answer comes.)
  await staff.waitForFunction(() => /déjà fermée/.test(document.querySelector("[role=alert]")?.textContent));
  assert.match(await staff.textContent("[role=alert]"), /Cette demande est déjà fermée : un autre employé l’a traitée/);
  assert.equal(await focusedId(staff), "view-error");
  const closed = await staff.textContent(".closed");
  assert.match(closed, /Titulaire injoignable/);
  assert.match(closed, /agent-collegue/);
  assert.equal(await staff.locator("#resolve").count(), 0, "a closed request has no form");
  await bothLanguages(staff, "agent-12-already-closed", async (l) => {
    assert.match(await staff.textContent("[role=alert]"), l === "fr" ? /déjà fermée/ : /This request is already closed: another employee handled it/);
  });
  await other.context().close();
  await staff.context().close();
});

test("the queue pages with more requests than a page, oldest first", async () => {
  for (const [number, date] of [["AG-100007", "1979-12-03"], ["AG-100008", "1988-03-22"], ["AG-100001", "1980-02-29"],
    ["AG-100004", "1968-01-20"], ["AG-100007", "1979-12-03"]]) {
    await fileRequest(number, date);
  }
  const expected = await openReferences();
  assert.ok(expected.length >= 5, `${expected.length} open requests`);
  const staff = await newPage("/agent/?limit=2");
  await staffSignIn(staff);
  await staff.waitForSelector("ol.queue");
  const seen = [];
  let page = 1;
  for (;;) {
    assert.equal((await staff.textContent("#queue-page")).trim(), `Page ${page}`);
    const refs = await staff.locator(".request-card h3 a").allTextContents();
    assert.ok(refs.length <= 2 && refs.length > 0, `page ${page}: ${refs.length} requests`);
    seen.push(...refs.map((r) => r.match(/AR-[0-9A-Z-]+/)[0]));
    if (page === 2) await bothLanguages(staff, "agent-13-queue-page-2");
    if (!(await staff.locator("#queue-next").count())) break;
    await staff.click("#queue-next");
    page += 1;
    await staff.waitForFunction((n) => document.querySelector("#queue-page")?.textContent.includes(`${n}`), page);
    assert.equal(await focusedId(staff), "view-title");
  }
  assert.deepEqual(seen, expected, "every open request once, in the API's order (oldest first)");
  assert.ok(page >= 3);
  const times = [];
  await staff.click("#queue-previous");
  await staff.waitForFunction((n) => document.querySelector("#queue-page")?.textContent.includes(`${n}`), page - 1);
  times.push(...(await staff.locator(".request-card time").evaluateAll((ts) => ts.map((t) => t.dateTime))));
  assert.deepEqual([...times].sort(), times, "oldest first");
  await staff.context().close();
});

test("a holder's token is refused with a sentence, and an ended session asks to sign in again", async () => {
  const page = await newPage("/agent/");
  await staffSignIn(page, unique("titulaire"), { agent: false });
  await page.waitForSelector("[role=alert]");
  assert.equal(await heading(page), "Accès refusé");
  assert.match(await page.textContent("[role=alert]"), /Ce compte n’a pas accès aux demandes d’aide/);
  assert.equal(await focusedId(page), "view-error");
  await bothLanguages(page, "agent-14-citizen-refused", async (l) => {
    assert.match(await page.textContent("[role=alert]"), l === "fr" ? /Déconnectez-vous/ : /This account has no access to assistance requests/);
  });
  await page.click("#forbidden-sign-out");
  await page.waitForSelector("#sign-in");
  assert.equal(await page.locator("#sign-out").isHidden(), true);

  // A token the API no longer accepts (ended, or not a token at all): sign in again.
  await page.evaluate(() => sessionStorage.setItem("agent.token", "not-a-token"));
  await page.reload();
  await page.waitForSelector("[role=alert]");
  assert.match(await page.textContent("[role=alert]"), /Votre session a pris fin. Connectez-vous de nouveau/);
  assert.equal(await page.locator("#sign-in").count(), 1);
  await bothLanguages(page, "agent-15-session-ended");
  await page.context().close();
});

test("an employee's whole path with the keyboard only, at 320 px wide", async () => {
  const reference = await fileRequest("AG-100008", "1988-03-22", { message: "Merci!" });
  const page = await newPage("/agent/", { width: 320, height: 800 });
  const fits = () => page.evaluate(() => document.documentElement.scrollWidth <= 320);
  const key = (k) => page.keyboard.press(k);
  assert.ok(await fits(), "no horizontal scrolling at 320 px");
  await key("Tab");
  assert.equal(await page.evaluate(() => document.activeElement.className), "skip");
  await page.focus("#view-title");
  await key("Tab");
  assert.equal(await focusedId(page), "dev-subject");
  await key("Enter");
  await page.waitForSelector("ol.queue");
  assert.ok(await fits());
  await shot(page, "agent-16-queue-320px");
  // Tab to the request's link, open it with Enter.
  for (let i = 0; i < 60 && !(await page.evaluate((r) => document.activeElement?.textContent?.includes(r), reference)); i++) await key("Tab");
  await key("Enter");
  await page.waitForSelector("#resolve");
  assert.equal(await focusedId(page), "view-title");
  assert.ok(await fits());
  await shot(page, "agent-17-request-320px");
  // The outcome with the keyboard: Tab to the first choice, Space, type both addresses.
  for (let i = 0; i < 60 && (await page.evaluate(() => document.activeElement?.name)) !== "outcome"; i++) await key("Tab");
  await key("Space");
  assert.equal(await page.isChecked("input[value=email_updated]"), true);
  await key("Tab");
  assert.equal(await focusedId(page), "new-email");
  const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
  assert.notEqual(outline, "none", "a visible focus indicator");
  await page.keyboard.type("chloe.fortin@example.org");
  await key("Tab");
  await page.keyboard.type("chloe.fortin@example.org");
  await key("Enter");
  await page.waitForSelector("#confirm-change");
  assert.ok(await fits());
  await shot(page, "agent-18-confirm-320px");
  await key("Tab");
  assert.equal(await focusedId(page), "confirm-change");
  await key("Enter");
  await page.waitForSelector("#flash");
  assert.ok(await fits());
  assert.match(await page.textContent("#flash"), new RegExp(reference));
  await page.context().close();
});

test("the skip link on a request moves focus to the content and keeps the request and what was typed", async () => {
  const reference = await fileRequest("AG-100007", "1979-12-03");
  const page = await newPage("/agent/");
  await staffSignIn(page);
  await page.waitForSelector("#queue-refresh");
  await openRequest(page, reference);
  await page.check("input[name=outcome][value=email_updated]");
  await page.fill("#new-email", "eric.p@example.org");
  // The skip link, reached with the keyboard and followed with Enter.
  await page.focus("a.skip");
  await page.keyboard.press("Enter");
  await page.waitForFunction(() => location.hash === "#main");
  await new Promise((r) => setTimeout(r, 300)); // a hashchange would have shown the queue by now
  assert.equal(await heading(page), `Demande ${reference}`);
  assert.equal(await page.inputValue("#new-email"), "eric.p@example.org");
  assert.ok(await page.evaluate(() => document.querySelector("main").contains(document.activeElement)), "focus is in main");
  await page.context().close();
});

test("a double click on the confirmation sends one resolve, and the success is shown", async () => {
  const reference = await fileRequest("AG-100003", "1990-11-02");
  const page = await newPage("/agent/");
  const resolves = [];
  page.on("request", (r) => { if (r.method() === "POST" && r.url().endsWith("/resolve")) resolves.push(r.url()); });
  await staffSignIn(page);
  await page.waitForSelector("#queue-refresh");
  await openRequest(page, reference);
  await page.check("input[name=outcome][value=email_updated]");
  await page.fill("#new-email", "lea.double@example.org");
  await page.fill("#new-email-again", "lea.double@example.org");
  await page.click("#resolve button[type=submit]");
  await page.waitForSelector("#confirm-change");
  await page.dblclick("#confirm-change");
  await page.waitForSelector("#flash");
  await new Promise((r) => setTimeout(r, 500)); // a second answer (a 409) would be here by now
  assert.equal(resolves.length, 1, "one POST …/resolve");
  assert.match(await page.textContent("#flash"), new RegExp(`Demande ${reference} fermée`));
  assert.equal(await page.locator("[role=alert]").count(), 0);
  await page.context().close();
});

test("bad addresses: a reference that does not decode, one that is a path, an audit number of no shape", async () => {
  const page = await newPage("/agent/");
  await staffSignIn(page);
  await page.waitForSelector("#queue-refresh");
  for (const hash of ["#/request/%E0", "#/request/..", "#/audit/..%2F..%2Fconfig.json"]) {
    await page.goto(`${BASE}/agent/${hash}`);
    await page.waitForSelector("[role=alert]");
    assert.equal(await heading(page), "Demandes ouvertes", hash);
    assert.match(await page.textContent("[role=alert]"),
      hash.includes("audit") ? /Corrigez les champs indiqués/ : /Cette demande est introuvable/, hash);
  }
  await page.context().close();
});

test("times are Toronto's on a computer set to UTC", async () => {
  const reference = await fileRequest("AG-100004", "1968-01-20");
  const page = await openPage(`${BASE}/agent/`, { timezoneId: "UTC" });
  await staffSignIn(page);
  await page.waitForSelector("#queue-refresh");
  await openRequest(page, reference);
  const time = page.locator("dd time").first();
  const instant = new Date(await time.getAttribute("datetime"));
  const hourIn = (timeZone) => new Intl.DateTimeFormat("en-CA", { hour: "numeric", minute: "2-digit", hourCycle: "h23", timeZone })
    .formatToParts(instant).filter((p) => p.type === "hour" || p.type === "minute").map((p) => Number(p.value));
  const [h, m] = hourIn("America/Toronto");
  const [uh] = hourIn("UTC");
  assert.notEqual(h, uh);
  const shown = await time.textContent();
  // The hour may be written with a leading zero ("00 h 08" just after midnight).
  assert.match(shown, new RegExp(`\\b0?${h}\\s*h\\s*${String(m).padStart(2, "0")}\\b`), `${shown}: Toronto's ${h} h ${m}`);
  await page.context().close();
});
