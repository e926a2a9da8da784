// The holder's page in Debian's Chromium, driven by playwright-core against the local API:
// the three paths to their end, the main errors, the language toggle, keyboard-only use,
// axe-core on every step in both languages, a screenshot of each step under target/.

import { test } from "node:test";
import assert from "node:assert/strict";
import { SHOTS, useBrowser, newPage as openPage, accessible, unique, focusedId, codeOf, holderSignIn as signIn, lookup } from "./browser.mjs";

const BASE = process.env.BASE_URL;
const SHORT_CODES = process.env.SHORT_CODES_URL; // a local API whose codes live 2 seconds
assert.ok(BASE && SHORT_CODES, "BASE_URL and SHORT_CODES_URL are set by scripts/web-tests.sh");

useBrowser("axe");

const newPage = (base = BASE, viewport = { width: 1024, height: 900 }) => openPage(base, { viewport });

async function heading(page) {
  return (await page.locator("#step-title").textContent()).trim();
}

async function step(page, name) {
  const lang = await page.evaluate(() => document.documentElement.lang);
  await accessible(page, `${name} (${lang})`);
  await page.screenshot({ path: `${SHOTS}/${name}-${lang}.png`, fullPage: true });
}


async function latestCode(base, certificateEmail) {
  const emails = await (await fetch(`${base}/dev/outbox`)).json();
  const mine = emails.filter((e) => e.to === certificateEmail);
  assert.ok(mine.length, `an email to ${certificateEmail}`);
  return codeOf(mine.at(-1));
}

test("the email-code path in French, each step accessible and screenshotted", async () => {
  const page = await newPage();
  assert.equal(await heading(page), "Connexion");
  await step(page, "1-sign-in");
  await signIn(page, unique("fr"));
  assert.equal(await heading(page), "Étape 1 : vos renseignements");
  assert.equal(await focusedId(page), "step-title", "focus moves to the new step's heading");
  await step(page, "2-lookup");
  await lookup(page, "ag-100001", "1980-02-29");
  await page.waitForSelector("#verify");
  assert.equal(await heading(page), "Étape 2 : entrer le code de sécurité");
  assert.equal(await focusedId(page), "step-title");
  const code = page.locator("#code");
  assert.equal(await code.getAttribute("autocomplete"), "one-time-code");
  assert.equal(await code.getAttribute("inputmode"), "numeric");
  assert.match(await page.textContent("#step"), /j•••@e•••\.ca/);
  assert.match(await page.textContent("#resend"), /Envoyer un nouveau code \(dans \d+ s\)/);
  assert.equal(await page.locator("#resend").isDisabled(), true);
  assert.match(await page.textContent("#attempts-left"), /Essais restants pour ce code : 5/);
  await step(page, "3-code");
  await code.fill(await latestCode(BASE, "jeanne.tremblay@exemple.ca"));
  await page.click("#verify button[type=submit]");
  await page.waitForSelector(".summary");
  assert.equal(await heading(page), "Votre compte est associé à votre dossier");
  const summary = await page.textContent(".summary");
  assert.match(summary, /AG100001/);
  assert.match(summary, /Jeanne Tremblay/);
  assert.match(summary, /30 juin 2027/, "dates in fr-CA");
  await step(page, "4-linked");
  await page.context().close();
});

test("the email-code path in English after the language toggle", async () => {
  const page = await newPage();
  await page.click("#language-toggle");
  assert.equal(await page.evaluate(() => document.documentElement.lang), "en");
  assert.equal(await heading(page), "Sign in");
  assert.equal(await page.textContent("#language-toggle"), "Français");
  await step(page, "1-sign-in");
  await signIn(page, unique("en"));
  assert.equal(await heading(page), "Step 1: your information");
  await step(page, "2-lookup");
  // Another holder than the French path's: the resend cooldown is the file's, across sessions.
  await lookup(page, "AG-100006", "1992-08-14");
  await page.waitForSelector("#verify");
  await step(page, "3-code");
  await page.fill("#code", await latestCode(BASE, "olivia.martin@example.com"));
  await page.click("#verify button[type=submit]");
  await page.waitForSelector(".summary");
  assert.equal(await heading(page), "Your account is linked to your file");
  assert.match(await page.textContent(".summary"), /June 30, 2027/, "dates in en-CA");
  await step(page, "4-linked");
  // Back to French, on the same step.
  await page.click("#language-toggle");
  assert.equal(await heading(page), "Votre compte est associé à votre dossier");
  assert.match(await page.textContent(".summary"), /30 juin 2027/);
  await page.context().close();
});

test("the invoice path, with its explanation, in both languages", async () => {
  const page = await newPage();
  await signIn(page, unique("invoice"));
  await lookup(page, "AG-100003", "1990-11-02");
  await page.waitForSelector("[data-go=invoice]");
  assert.match(await page.textContent("#step"), /Aucune adresse courriel n’est inscrite/);
  await step(page, "5-no-email");
  await page.click("#language-toggle");
  assert.match(await page.textContent("#step"), /No email address is on file/);
  await step(page, "5-no-email");
  await page.click("#language-toggle");
  await page.click("[data-go=invoice]");
  assert.equal(await heading(page), "Confirmer avec une facture");
  assert.match(await page.textContent("#step"), /confirmation de paiement de l’Office datant de moins de 3 ans/);
  await step(page, "6-invoice");
  await page.click("#language-toggle");
  assert.match(await page.textContent("#step"), /payment confirmation from the Office less than 3 years old/);
  await step(page, "6-invoice");
  await page.fill("#invoice-number", "F-2026-0310");
  await page.click("#invoice button[type=submit]");
  await page.waitForSelector(".summary");
  assert.match(await page.textContent(".summary"), /AG100003/);
  await page.context().close();
});

test("the assistance path, with its explanation, in both languages", async () => {
  const page = await newPage();
  await signIn(page, unique("assistance"));
  await lookup(page, "AG-100005", "1985-04-05");
  await page.waitForSelector("[data-go=assistance]");
  await page.click("[data-go=assistance]");
  assert.equal(await heading(page), "Demander l’aide d’un employé");
  assert.match(await page.textContent("#step"), /vous appellera aux coordonnées inscrites à votre dossier/);
  await step(page, "7-assistance");
  await page.click("#language-toggle");
  assert.match(await page.textContent("#step"), /will call you at the contact details on file/);
  await step(page, "7-assistance");
  await page.check("input[name=preferred-time][value=afternoon]");
  await page.fill("#message", "Please call after 2 pm.");
  await page.click("#assistance button[type=submit]");
  await page.waitForSelector(".success");
  assert.equal(await heading(page), "Assistance request received");
  assert.match(await page.textContent(".success"), /AR-[0-9A-Z]{4}-[0-9A-Z]{4}/);
  await step(page, "8-assistance-done");
  await page.click("#language-toggle");
  await step(page, "8-assistance-done");
  await page.context().close();
});

test("errors are plain sentences in the page's language, tied to their fields", async () => {
  const page = await newPage();
  await signIn(page, unique("errors"));
  // Client-side: a bad date is tied to its field, and focus goes to it.
  await lookup(page, "AG-100001", "29/02/1980");
  await page.waitForSelector("#date-of-birth-error");
  assert.equal(await page.getAttribute("#date-of-birth", "aria-invalid"), "true");
  assert.match(await page.getAttribute("#date-of-birth", "aria-describedby"), /date-of-birth-error/);
  assert.equal(await focusedId(page), "date-of-birth");
  await step(page, "9-field-error");
  // No match: the message, focused.
  await lookup(page, "ZZ-424242", "1980-02-29");
  await page.waitForSelector("[role=alert]");
  assert.match(await page.textContent("[role=alert]"), /ne correspondent à aucun dossier/);
  assert.equal(await focusedId(page), "step-error");
  await step(page, "10-no-match");
  // Locked after five failures, with when to retry.
  for (let i = 0; i < 4; i++) await lookup(page, "ZZ-424242", `1980-02-0${i + 1}`);
  await lookup(page, "ZZ-424242", "1980-03-01");
  await page.waitForFunction(() => /Trop de tentatives/.test(document.querySelector("[role=alert]")?.textContent));
  assert.match(await page.textContent("[role=alert]"), /Vous pourrez réessayer à partir du .*20\d\d/);
  await step(page, "11-locked");
  await page.click("#language-toggle");
  await lookup(page, "ZZ-424242", "1980-03-02");
  await page.waitForFunction(() => /Too many unsuccessful attempts/.test(document.querySelector("[role=alert]")?.textContent));
  await step(page, "11-locked");
  await page.context().close();

  // Invoice too old, then a wrong code with the tries left.
  const other = await newPage();
  await signIn(other, unique("old-invoice"));
  await lookup(other, "AG-100004", "1968-01-20");
  await other.waitForSelector("#verify");
  assert.equal(await other.locator("[data-go=invoice]").count(), 0, "a file linked elsewhere offers no invoice");
  await other.fill("#code", (await latestCode(BASE, "marc.gagnon@exemple.ca")) === "000000" ? "000001" : "000000");
  await other.click("#verify button[type=submit]");
  await other.waitForSelector("[role=alert]");
  assert.match(await other.textContent("[role=alert]"), /Le code est incorrect\. Essais restants : 4/);
  assert.equal(await focusedId(other), "code", "focus goes to the field the error is about");
  assert.equal(await other.getAttribute("#code", "aria-invalid"), "true");
  assert.match(await other.textContent("#code-error"), /Essais restants : 4/);
  assert.match(await other.textContent("#attempts-left"), /4/);
  await step(other, "12-wrong-code");
  await other.click("#language-toggle");
  await other.fill("#code", "999999");
  await other.click("#verify button[type=submit]");
  await other.waitForFunction(() => /Tries left: 3/.test(document.querySelector("[role=alert]")?.textContent));
  await step(other, "12-wrong-code");
  await other.context().close();

  const old = await newPage();
  await signIn(old, unique("too-old"));
  await lookup(old, "AG-100002", "1975-06-15");
  await old.waitForSelector("[data-go=invoice]");
  await old.click("[data-go=invoice]");
  await old.fill("#invoice-number", "F-2022-0042");
  await old.click("#invoice button[type=submit]");
  await old.waitForSelector("[role=alert]");
  assert.match(await old.textContent("[role=alert]"), /date de 3 ans ou plus.*Essais restants : 4/);
  assert.equal(await focusedId(old), "invoice-number");
  await step(old, "13-invoice-too-old");
  await old.context().close();
});

test("an expired code says so and what to do", async () => {
  const page = await newPage(SHORT_CODES);
  await signIn(page, unique("expired"));
  await lookup(page, "AG-100001", "1980-02-29");
  await page.waitForSelector("#verify");
  const code = await latestCode(SHORT_CODES, "jeanne.tremblay@exemple.ca");
  await new Promise((resolve) => setTimeout(resolve, 2500));
  await page.fill("#code", code);
  await page.click("#verify button[type=submit]");
  await page.waitForSelector("[role=alert]");
  assert.match(await page.textContent("[role=alert]"), /n’est plus valide.*Demandez un nouveau code/);
  await step(page, "14-code-expired");
  await page.context().close();
});

test("the email-code path with the keyboard only, at 320 px wide", async () => {
  const page = await newPage(BASE, { width: 320, height: 800 });
  const fits = () => page.evaluate(() => document.documentElement.scrollWidth <= 320);
  assert.ok(await fits(), "no horizontal scrolling at 320 px");
  const key = (k) => page.keyboard.press(k);
  // Skip link first, then the language toggle, then the step.
  await key("Tab");
  assert.equal(await page.evaluate(() => document.activeElement.className), "skip");
  await page.focus("#step-title");
  await key("Tab");
  assert.equal(await focusedId(page), "dev-subject");
  await page.keyboard.press("Control+A");
  await page.keyboard.type(unique("keyboard"));
  await key("Enter");
  await page.waitForSelector("#lookup");
  assert.equal(await focusedId(page), "step-title");
  await key("Tab");
  assert.equal(await focusedId(page), "certificate-number");
  await page.keyboard.type("AG-100007");
  await key("Tab");
  assert.equal(await focusedId(page), "date-of-birth");
  await page.keyboard.type("1979-12-03");
  await key("Enter");
  await page.waitForSelector("#verify");
  assert.ok(await fits());
  await key("Tab");
  assert.equal(await focusedId(page), "code");
  await page.keyboard.type(await latestCode(BASE, "eric.pelletier@exemple.ca"));
  // A visible focus indicator on the focused field.
  const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
  assert.notEqual(outline, "none");
  await key("Enter");
  await page.waitForSelector(".summary");
  assert.ok(await fits());
  await step(page, "15-linked-320px");
  await page.context().close();
});

test("a new lookup within the resend cooldown says when a code can be asked for", async () => {
  const first = await newPage();
  await signIn(first, unique("cooldown-1"));
  await lookup(first, "AG-100008", "1988-03-22");
  await first.waitForSelector("#verify");
  await first.context().close();
  // Another session (here another account) on the same file: no second email within the minute.
  const second = await newPage();
  await signIn(second, unique("cooldown-2"));
  await lookup(second, "AG-100008", "1988-03-22");
  await second.waitForSelector("[role=alert]");
  assert.match(await second.textContent("[role=alert]"), /Vous pourrez en demander un nouveau dans \d+ secondes/);
  assert.equal(await second.locator("#send-code").count(), 1, "the holder can ask again from the same step");
  await step(second, "16-resend-cooldown");
  await second.click("#language-toggle");
  await second.click("#send-code");
  await second.waitForFunction(() => /You can ask for a new one in \d+ seconds/.test(document.querySelector("[role=alert]")?.textContent));
  await step(second, "16-resend-cooldown");
  await second.context().close();
});
