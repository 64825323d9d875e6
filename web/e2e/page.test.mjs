// The page at / in a real headless Chromium, on a service with auth off (run by the API test
// `page::browser_*`, which starts the service and sets FILEPROC_URL): drop a CSV and see its
// progress reach done and its exact first rows and row count; drop a JPEG and see its
// thumbnail; drop a broken PNG and a mislabelled file and see their errors; a larger CSV
// whose connection drops mid-upload resumes; reload and find them in the list, filter it,
// open one by keyboard; delete one; a narrow screen; accessibility checked at each state.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { launch } from "./browser.mjs";
import {
  BASE,
  DONE_MS,
  assertAccessible,
  collectProblems,
  drop,
  parseCsv,
  recordRows,
  recordUploadRows,
  rowHistory,
  screenshot,
  testData,
  waitForRow,
} from "./helpers.mjs";

const RANK = { uploading: 0, pending: 1, queued: 2, processing: 3, completed: 4, failed: 4 };

let browser;
let page;
let problems;

before(async () => {
  browser = await launch();
  page = browser.context.pages()[0] ?? (await browser.context.newPage());
  problems = collectProblems(page);
  await page.goto(BASE);
  await page.getByRole("heading", { name: "Upload" }).waitFor();
  await page.getByTestId("connection").getByText("Live").waitFor({ timeout: 20_000 });
});

after(async () => {
  await browser?.close();
});

const nfl = testData("csv/nfl.csv");
const nflRows = parseCsv(nfl.toString("utf8"));

test("the empty page is accessible and says what to do", async () => {
  await page.getByText("Drop files here, or choose files").waitFor();
  await screenshot(page, "01-empty");
  await assertAccessible(page, "empty page");
});

test("a dropped CSV shows its progress up to done, then its first rows and row count", async () => {
  await recordUploadRows(page);
  await drop(page, [{ name: "nfl.csv", type: "text/csv", bytes: nfl }]);
  const row = await waitForRow(page, "nfl.csv", "completed");
  await assert.doesNotReject(row.getByText("Done").waitFor());
  assert.equal(await row.locator("progress").getAttribute("value"), "1");

  const history = await rowHistory(page, "nfl.csv");
  assert.equal(history[0].status, "uploading", JSON.stringify(history));
  assert.equal(history.at(-1).status, "completed", JSON.stringify(history));
  for (let i = 1; i < history.length; i++) {
    assert.ok(RANK[history[i].status] >= RANK[history[i - 1].status], `went back: ${JSON.stringify(history)}`);
  }

  await row.getByRole("button", { name: "View result: nfl.csv" }).click();
  const detail = page.getByTestId("detail");
  await detail.getByTestId("row-count").waitFor();
  const expectedCount = nflRows.length - 1;
  assert.equal(expectedCount, 9999);
  assert.equal(await detail.getByTestId("row-count").textContent(), expectedCount.toLocaleString("en"));
  await detail.getByTestId("records").waitFor();
  assert.equal(await detail.getByTestId("records").locator("caption").textContent(), `Records 1–50 of ${expectedCount.toLocaleString("en")}`);

  // The header row names the columns; the first rows are the file's, field for field (a
  // missing field is an empty cell).
  const header = await detail.getByTestId("records").locator("thead th").allTextContents();
  assert.deepEqual(header.slice(1), nflRows[0]);
  assert.deepEqual(await recordRows(page, 5), nflRows.slice(1, 6));
  // The column statistics above it: one row per column.
  assert.equal(await detail.getByTestId("column-stats").locator("tbody tr").count(), nflRows[0].length);
  // The file list is live: the new file is in it, done, without a reload.
  await page.locator('[data-testid="file-row"][data-name="nfl.csv"][data-status="completed"]').waitFor({ timeout: 10_000 });
  await screenshot(page, "02-csv-result");
  await assertAccessible(page, "CSV result");

  // The next page of records is rows 51..100.
  await detail.getByRole("button", { name: "Next records" }).click();
  await detail.getByTestId("records").locator("caption").getByText("Records 51–100").waitFor();
  assert.deepEqual(await recordRows(page, 2), nflRows.slice(51, 53));
});

test("a dropped JPEG shows its thumbnail, upright, with its dimensions and EXIF", async () => {
  await drop(page, [{ name: "Landscape_6.jpg", type: "image/jpeg", bytes: testData("jpeg/Landscape_6.jpg") }]);
  const row = await waitForRow(page, "Landscape_6.jpg", "completed");
  // The file list is live: the new file is in it, done, without a reload.
  await page.locator('[data-testid="file-row"][data-name="Landscape_6.jpg"][data-status="completed"]').waitFor({ timeout: 10_000 });
  await row.getByRole("button", { name: "View result: Landscape_6.jpg" }).click();
  const detail = page.getByTestId("detail");
  const img = detail.getByRole("img", { name: "Thumbnail of Landscape_6.jpg" });
  await img.waitFor();
  await page.waitForFunction((el) => el.complete && el.naturalWidth > 0, await img.elementHandle());
  // 1200x1800 stored, EXIF orientation 6: shown 1800x1200, so the 256 px thumbnail is 256x171.
  const natural = await img.evaluate((el) => [el.naturalWidth, el.naturalHeight]);
  assert.deepEqual(natural, [256, 171]);
  assert.equal(await detail.getByTestId("dimensions").textContent(), "1200 × 1800 px");
  await detail.getByText("1800 × 1200 px (turned upright)").waitFor();
  const orientation = detail.locator("dt", { hasText: "Orientation" }).locator("xpath=following-sibling::dd");
  assert.equal(await orientation.textContent(), "6");
  await screenshot(page, "03-jpeg-result");
  await assertAccessible(page, "JPEG result");
});

test("a PDF, a DOCX and an XLSX show their own views: thumbnail, properties, text, sheet tabs", async () => {
  await drop(page, [
    { name: "testPDF.pdf", type: "application/pdf", bytes: testData("pdf/testPDF.pdf") },
    { name: "testWORD.docx", type: "", bytes: testData("docx/testWORD.docx") },
    { name: "testEXCEL.xlsx", type: "", bytes: testData("xlsx/testEXCEL.xlsx") },
  ]);
  const detail = page.getByTestId("detail");
  const fact = (name) => detail.locator("dt", { hasText: new RegExp(`^${name}$`) }).first().locator("xpath=following-sibling::dd");

  await (await waitForRow(page, "testPDF.pdf", "completed")).getByRole("button", { name: "View result: testPDF.pdf" }).click();
  await detail.getByTestId("result-pdf").waitFor();
  const firstPage = detail.getByRole("img", { name: "First page of testPDF.pdf" });
  await page.waitForFunction((el) => el.complete && el.naturalWidth > 0, await firstPage.elementHandle());
  assert.deepEqual(await firstPage.evaluate((el) => [el.naturalWidth, el.naturalHeight]), [180, 256]);
  assert.equal(await fact("Pages").textContent(), "1");
  assert.equal(await fact("Title").textContent(), "Apache Tika - Apache Tika");
  assert.equal(await fact("Words").textContent(), "158");
  assert.match(await detail.getByTestId("text").textContent(), /^Apache Tika - Apache Tika/);
  await screenshot(page, "04a-pdf-result");

  await (await waitForRow(page, "testWORD.docx", "completed")).getByRole("button", { name: "View result: testWORD.docx" }).click();
  await detail.getByTestId("result-docx").waitFor();
  assert.equal(await fact("Paragraphs").textContent(), "22");
  assert.equal(await fact("Tables").textContent(), "1");
  assert.equal(await fact("Creator").textContent(), "Keith Bennett");
  assert.equal(await detail.locator(".headings li").first().textContent(), "Sample Word Document Title");
  assert.match(await detail.getByTestId("text").textContent(), /^Sample Word Document Title\nAnd now for a subtitle/);

  await (await waitForRow(page, "testEXCEL.xlsx", "completed")).getByRole("button", { name: "View result: testEXCEL.xlsx" }).click();
  await detail.getByTestId("result-xlsx").waitFor();
  const tabs = detail.getByRole("tab");
  assert.deepEqual(await tabs.allTextContents(), ["Feuil1", "Feuil2", "Feuil3"]);
  assert.equal(await tabs.first().getAttribute("aria-selected"), "true");
  assert.equal(await detail.getByTestId("records").locator("caption").textContent(), "Records 1–17 of 17");
  // The sheet's column statistics above its records: one row per column, typed.
  const stats = detail.getByTestId("column-stats").locator("tbody tr");
  assert.deepEqual(
    await stats.evaluateAll((rows) => rows.map((r) => [r.querySelector("th").textContent, r.querySelector("td").textContent])),
    [
      ["Sample Excel Worksheet - Numbers and their Squares", "string"],
      ["column_2", "string"],
      ["column_3", "string"],
    ],
  );
  assert.deepEqual(await recordRows(page, 2), [["", "Number", "Square"], ["", "1", "1"]]);
  await screenshot(page, "04b-xlsx-result");
  // Arrow keys move between the sheet tabs; an empty sheet says so.
  await tabs.first().focus();
  await page.keyboard.press("ArrowRight");
  assert.equal(await tabs.nth(1).getAttribute("aria-selected"), "true");
  assert.equal(await page.evaluate(() => document.activeElement?.textContent), "Feuil2");
  await detail.getByRole("tabpanel").getByText("No records.").waitFor();
  await assertAccessible(page, "XLSX result");
});

test("a broken PNG fails with its error in plain words, and a mislabelled file is refused", async () => {
  await drop(page, [
    { name: "x_unexpected_eof.png", type: "image/png", bytes: testData("png/x_unexpected_eof.png") },
    { name: "notes.pdf", type: "application/pdf", bytes: Buffer.from("just some text, not a PDF\n".repeat(20)) },
  ]);
  const broken = await waitForRow(page, "x_unexpected_eof.png", "failed");
  await broken.getByText("The file is damaged: its bytes are not a valid file of its type.").waitFor();
  await broken.getByText("(corrupt_file)").waitFor();

  const refused = await waitForRow(page, "notes.pdf", "failed");
  // Refused by the upload itself (415): nothing is stored, so there is no result to open.
  await refused.getByText("(type_mismatch)").waitFor();
  assert.equal(await refused.getByRole("button", { name: /View/ }).count(), 0);

  await broken.getByRole("button", { name: "View error: x_unexpected_eof.png" }).click();
  const panel = page.getByTestId("detail").getByRole("alert");
  await panel.getByText("What to do:").waitFor();
  assert.equal(await panel.locator("code").textContent(), "corrupt_file");
  await panel.getByText("the first PNG chunk is not IHDR", { exact: false }).waitFor();
  await screenshot(page, "04-error");
  await assertAccessible(page, "error");
});

test("a connection dropped mid-upload resumes, and the file arrives whole", async () => {
  // 3 PATCHes of 8 MiB; the second is cut off once; tus-js-client asks the offset and goes on.
  const lines = ["id,name,score"];
  for (let i = 0; lines.length <= 900_000; i++) lines.push(`${i},name ${i},${(i % 1000) / 10}`);
  const csv = Buffer.from(lines.join("\n") + "\n");
  assert.ok(csv.length > 16 * 1024 * 1024, `${csv.length}`);
  let patches = 0;
  let cut = false;
  await page.route("**/api/v1/tus/*", async (route) => {
    if (route.request().method() === "PATCH") {
      patches += 1;
      if (patches === 2 && !cut) {
        cut = true;
        return route.abort("connectionreset");
      }
    }
    return route.continue();
  });
  await recordUploadRows(page);
  await drop(page, [{ name: "scores.csv", type: "text/csv", bytes: csv }]);
  const row = await waitForRow(page, "scores.csv", "completed");
  await page.unroute("**/api/v1/tus/*");
  assert.ok(cut, "the second PATCH was cut off");
  const history = await rowHistory(page, "scores.csv");
  const uploading = history.filter((h) => h.status === "uploading" && h.value > 0 && h.value < 1);
  assert.ok(uploading.length >= 2, `upload progress was shown as it went: ${JSON.stringify(history)}`);

  const id = await row.getAttribute("data-file-id");
  const file = await (await fetch(`${BASE}/api/v1/files/${id}`)).json();
  assert.equal(file.size, csv.length);
  assert.equal(file.sha256, createHash("sha256").update(csv).digest("hex"));
  await row.getByRole("button", { name: "View result: scores.csv" }).click();
  await page.getByTestId("detail").getByTestId("row-count").getByText((lines.length - 1).toLocaleString("en"), { exact: true }).waitFor({ timeout: DONE_MS });
});

test("after a reload the files are in the list, which filters and opens by keyboard", async () => {
  await page.goto(BASE);
  const rows = page.getByTestId("file-row");
  await rows.first().waitFor();
  const byName = async () =>
    Object.fromEntries(await rows.evaluateAll((trs) => trs.map((tr) => [tr.dataset.name, tr.dataset.status])));
  const list = await byName();
  assert.equal(list["nfl.csv"], "completed");
  assert.equal(list["Landscape_6.jpg"], "completed");
  assert.equal(list["x_unexpected_eof.png"], "failed");
  assert.equal(list["scores.csv"], "completed");
  assert.equal(list["notes.pdf"], undefined, "a refused upload leaves no file");
  await screenshot(page, "05-list-after-reload");

  // Each filter shows exactly its files (the list answers the last request made).
  const shows = (names) =>
    page.waitForFunction(
      (names) => Array.from(document.querySelectorAll('[data-testid="file-row"]'), (tr) => tr.dataset.name).join("|") === names.join("|"),
      names,
      { timeout: 10_000 },
    );
  await page.getByLabel("Status").selectOption("failed");
  await shows(["x_unexpected_eof.png"]);
  await page.getByLabel("Status").selectOption("");
  await page.getByLabel("Type").selectOption("jpeg");
  await shows(["Landscape_6.jpg"]);
  await page.getByLabel("Type").selectOption("csv");
  await shows(["scores.csv", "nfl.csv"]);
  await page.getByLabel("Type").selectOption("");
  await page.locator('[data-testid="file-row"][data-name="nfl.csv"]').waitFor();

  // Keyboard: the skip link comes first, then the file picker; Tab reaches the file's button,
  // Enter opens it and focus lands on its heading.
  await page.locator('table.files[aria-busy="false"]').waitFor();
  await page.locator("body").focus();
  await page.keyboard.press("Tab");
  assert.equal(await page.evaluate(() => document.activeElement?.textContent), "Skip to content");
  await page.keyboard.press("Tab");
  assert.equal(await page.evaluate(() => document.activeElement?.id), "file-input");
  const visited = [];
  for (let i = 0; i < 60 && visited.at(-1) !== "Open nfl.csv"; i++) {
    await page.keyboard.press("Tab");
    visited.push(await page.evaluate(() => {
      const el = document.activeElement;
      return el?.getAttribute("aria-label") || el?.id || el?.textContent?.slice(0, 30) || el?.tagName;
    }));
  }
  assert.equal(visited.at(-1), "Open nfl.csv", `Tab went through: ${JSON.stringify(visited)}`);
  await page.keyboard.press("Enter");
  await page.getByTestId("detail").getByTestId("records").waitFor();
  assert.deepEqual(
    await page.evaluate(() => [document.activeElement?.id, document.activeElement?.textContent]),
    ["detail-heading", "nfl.csv"],
  );
  // The opened file is in the address: a reload shows it again.
  assert.match(page.url(), /#file=[0-9a-f-]{36}$/);
  await page.reload();
  await page.getByTestId("detail").getByRole("heading", { name: "nfl.csv" }).waitFor();
  await assertAccessible(page, "list after reload");
});

test("a file deleted from the list is gone from the list and the service", async () => {
  const row = page.locator('[data-testid="file-row"][data-name="Landscape_6.jpg"]');
  const id = await row.getAttribute("data-file-id");
  await row.getByRole("button", { name: "Delete Landscape_6.jpg" }).click();
  const dialog = page.getByRole("dialog", { name: "Delete Landscape_6.jpg?" });
  await dialog.waitFor();
  await screenshot(page, "06-delete-confirm");
  await dialog.getByRole("button", { name: "Delete", exact: true }).click();
  await row.waitFor({ state: "detached" });
  assert.equal((await fetch(`${BASE}/api/v1/files/${id}`)).status, 404);
  assert.ok(await page.locator('[data-testid="file-row"][data-name="nfl.csv"]').isVisible());
  await screenshot(page, "07-after-delete");
});

test("on a narrow screen nothing runs off the side", async () => {
  await page.setViewportSize({ width: 375, height: 812 });
  await page.getByTestId("detail").getByTestId("records").waitFor();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(overflow <= 0, `the page is ${overflow} px wider than the screen`);
  await screenshot(page, "08-narrow");
  await assertAccessible(page, "narrow screen");
});

test("the page raised no errors and its policy refused nothing", () => {
  assert.deepEqual(problems, []);
});
