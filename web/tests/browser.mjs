// What every browser test file shares: Debian's Chromium started once per file (node --test runs
// each file in its own process) and closed after it, contexts in Québec's language and time
// zone, axe-core's WCAG 2.1 A/AA check with a count printed at the end, the screenshot folder.

import { before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { chromium } from "playwright-core";
import AxeBuilder from "@axe-core/playwright";

export const SHOTS = process.env.SCREENSHOT_DIR || "../../target/screenshots";
mkdirSync(SHOTS, { recursive: true });

/** The browser of this file, set by `useBrowser`'s `before`. */
export let browser;
const axeResults = [];

/** Starts Chromium before the file's tests and closes it after; `label` names the axe count. */
export function useBrowser(label, { after: cleanUp } = {}) {
  before(async () => {
    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
      args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"],
    });
  });
  after(async () => {
    await browser?.close();
    await cleanUp?.();
    console.log(`${label}: ${axeResults.length} step checks, ${axeResults.filter((r) => r.violations === 0).length} with no violation`);
    for (const r of axeResults) console.log(`  axe ${r.name}: ${r.violations} violations`);
  });
}

/** A new context (fr-CA, Toronto's time unless told) and a page in it, at `url` when given. */
export async function newPage(url, { viewport = { width: 1280, height: 900 }, locale = "fr-CA", timezoneId = "America/Toronto" } = {}) {
  const context = await browser.newContext({ viewport, locale, timezoneId });
  const page = await context.newPage();
  page.on("pageerror", (e) => { throw e; });
  if (url) await page.goto(url);
  return page;
}

/** axe-core finds no WCAG 2.1 A/AA violation on the page as it stands. */
export async function accessible(page, name) {
  const result = await new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]).analyze();
  axeResults.push({ name, violations: result.violations.length });
  assert.deepEqual(result.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target).join(" ")}`), [], name);
}

export const unique = (prefix) => `${prefix}-${Math.random().toString(36).slice(2, 8)}`;
export const lang = (page) => page.evaluate(() => document.documentElement.lang);
export const focusedId = (page) => page.evaluate(() => document.activeElement?.id);

/** The security code of an outbox email: its text's one word of six digits (never in the subject). */
export function codeOf(email) {
  const words = email.text.split(/[^A-Za-z0-9]+/).filter((w) => /^\d{6}$/.test(w));
  if (words.length === 0) throw new Error(`no code in: ${email.subject}`);
  return words[0];
}

/** The holder's development sign-in, on the sign-in screen: then the lookup form. */
export async function holderSignIn(page, subject) {
  await page.waitForSelector("#sign-in");
  await page.fill("#dev-subject", subject);
  await page.click("#sign-in button[type=submit]");
  await page.waitForSelector("#lookup");
}

/** A lookup on the holder's page. */
export async function lookup(page, certificate, dateOfBirth) {
  await page.fill("#certificate-number", certificate);
  await page.fill("#date-of-birth", dateOfBirth);
  await page.click("#lookup button[type=submit]");
}
