// What the page tests share: the service under test (FILEPROC_URL), where screenshots go
// (FILEPROC_SCREENSHOTS), dropping files on the page the way a browser does (a DataTransfer
// in a `drop` event), waiting for an upload row, and axe-core's accessibility check.

import { mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import assert from "node:assert/strict";

export const BASE = process.env.FILEPROC_URL ?? "http://127.0.0.1:8080";
export const SHOTS = process.env.FILEPROC_SCREENSHOTS ?? new URL("../../target/web-e2e/", import.meta.url).pathname;
/** How long a file may take to reach done: the debug server shares two cores with other tests. */
export const DONE_MS = 120_000;

mkdirSync(SHOTS, { recursive: true });

/** The repository's test data: crates/formats/tests/data (its sources in SOURCES.md there). */
export function testData(path) {
  return readFileSync(new URL(`../../crates/formats/tests/data/${path}`, import.meta.url));
}

export async function screenshot(page, name) {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: false });
}

/** Drop `files` ({name, type, bytes}) on the page's drop zone. */
export async function drop(page, files) {
  const payload = files.map((f) => ({ name: f.name, type: f.type, data: Buffer.from(f.bytes).toString("base64") }));
  await page.getByTestId("dropzone").evaluate((zone, files) => {
    const transfer = new DataTransfer();
    for (const f of files) {
      const bytes = Uint8Array.from(atob(f.data), (c) => c.charCodeAt(0));
      transfer.items.add(new File([bytes], f.name, { type: f.type }));
    }
    for (const type of ["dragenter", "dragover", "drop"]) {
      zone.dispatchEvent(new DragEvent(type, { dataTransfer: transfer, bubbles: true, cancelable: true }));
    }
  }, payload);
}

/** Record every status and progress value the upload rows show, from now on. */
export async function recordUploadRows(page) {
  await page.evaluate(() => {
    window.__rows = [];
    const note = () => {
      for (const row of document.querySelectorAll('[data-testid="upload-row"]')) {
        const bar = row.querySelector("progress");
        const entry = { name: row.dataset.name, status: row.dataset.status, value: bar ? Number(bar.value) : null };
        const last = window.__rows.findLast((r) => r.name === entry.name);
        if (!last || last.status !== entry.status || last.value !== entry.value) window.__rows.push(entry);
      }
    };
    new MutationObserver(note).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ["data-status", "value"] });
    note();
  });
}

/** What `recordUploadRows` saw for the row of `name`. */
export function rowHistory(page, name) {
  return page.evaluate((name) => window.__rows.filter((r) => r.name === name), name);
}

/** Wait until the upload row of `name` shows `status` (completed, failed...). */
export async function waitForRow(page, name, status) {
  const row = page.locator(`[data-testid="upload-row"][data-name="${name}"]`);
  await row.and(page.locator(`[data-status="${status}"]`)).waitFor({ timeout: DONE_MS });
  return row;
}

const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

/** axe-core's WCAG 2.1 A and AA rules on the page as it is: no violation may be found. */
export async function assertAccessible(page, state) {
  // Evaluated, not added as a <script>: the page's policy (rightly) refuses inline scripts.
  await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    const result = await window.axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] } });
    return result.violations.map((v) => ({ id: v.id, help: v.help, nodes: v.nodes.map((n) => n.target.join(" ")).slice(0, 5) }));
  });
  assert.deepEqual(violations, [], `accessibility violations (${state}): ${JSON.stringify(violations, null, 2)}`);
}

/** Errors the page raised, and content-security-policy refusals, collected for a final check. */
export function collectProblems(page) {
  const problems = [];
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error" && /Content Security Policy|Refused to/.test(m.text())) problems.push(`console: ${m.text()}`);
  });
  return problems;
}

/** The records of a CSV's text as arrays of fields (RFC 4180: quotes, doubled quotes, CRLF). */
export function parseCsv(text) {
  const rows = [];
  let row = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") {
      row.push(field);
      field = "";
    } else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
    } else field += c;
  }
  if (field !== "" || row.length) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}

/** The text of each cell of the first `n` body rows of the records table (without the # column). */
export async function recordRows(page, n) {
  return page.getByTestId("records").locator("tbody tr").evaluateAll(
    (rows, n) => rows.slice(0, n).map((r) => Array.from(r.querySelectorAll("td"), (td) => td.textContent)),
    n,
  );
}
