// The page on a service with API keys on (run by the API test `page::browser_asks_for_the_api_key_*`,
// which sets FILEPROC_URL and FILEPROC_API_KEY): it asks for the key, refuses a wrong one, then
// uses the right one for HTTP (uploads, the list, records, thumbnails, downloads) and the
// WebSocket; the key lasts for the tab (session storage) across a reload, and can be forgotten.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { launch } from "./browser.mjs";
import { BASE, assertAccessible, collectProblems, drop, recordRows, screenshot, testData, waitForRow } from "./helpers.mjs";

const KEY = process.env.FILEPROC_API_KEY;

let browser;
let page;
let problems;

before(async () => {
  assert.ok(KEY, "FILEPROC_API_KEY is set");
  browser = await launch();
  page = browser.context.pages()[0] ?? (await browser.context.newPage());
  problems = collectProblems(page);
  await page.goto(BASE);
});

after(async () => {
  await browser?.close();
});

test("the page asks for the key and refuses a wrong one", async () => {
  const dialog = page.getByRole("dialog", { name: "API key" });
  await dialog.waitFor();
  await screenshot(page, "01-key-dialog");
  await assertAccessible(page, "key dialog");
  await dialog.getByLabel("Your API key").fill("not-the-key");
  await dialog.getByRole("button", { name: "Use this key" }).click();
  await dialog.getByRole("alert").getByText("That key was refused").waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.length), 0, "a refused key is not kept");
  // Escape does not close it: nothing works without a key.
  await page.keyboard.press("Escape");
  assert.ok(await dialog.isVisible());
});

test("with the right key, uploads, progress, records, thumbnails and downloads work", async () => {
  const dialog = page.getByRole("dialog", { name: "API key" });
  await dialog.getByLabel("Your API key").fill(KEY);
  await dialog.getByRole("button", { name: "Use this key" }).click();
  await dialog.waitFor({ state: "hidden" });
  assert.equal(await page.evaluate(() => sessionStorage.getItem("fileproc.credential")), KEY);
  // The WebSocket carries the key as ?token= and is accepted.
  await page.getByTestId("connection").getByText("Live").waitFor({ timeout: 20_000 });

  const csv = Buffer.from("city,population\nParis,2161000\nBerlin,3645000\n");
  await drop(page, [
    { name: "cities.csv", type: "text/csv", bytes: csv },
    { name: "Landscape_6.jpg", type: "image/jpeg", bytes: testData("jpeg/Landscape_6.jpg") },
  ]);
  const row = await waitForRow(page, "cities.csv", "completed");
  await row.getByRole("button", { name: "View result: cities.csv" }).click();
  await page.getByTestId("detail").getByTestId("records").waitFor();
  assert.equal(await page.getByTestId("row-count").textContent(), "2");
  assert.deepEqual(await recordRows(page, 5), [
    ["Paris", "2161000"],
    ["Berlin", "3645000"],
  ]);

  const jpeg = await waitForRow(page, "Landscape_6.jpg", "completed");
  await jpeg.getByRole("button", { name: "View result: Landscape_6.jpg" }).click();
  const img = page.getByRole("img", { name: "Thumbnail of Landscape_6.jpg" });
  await img.waitFor();
  await page.waitForFunction((el) => el.complete && el.naturalWidth > 0, await img.elementHandle());
  assert.deepEqual(await img.evaluate((el) => [el.naturalWidth, el.naturalHeight]), [256, 171]);

  // A download with the key: fetched with the header, then saved.
  const listRow = page.locator('[data-testid="file-row"][data-name="cities.csv"]');
  const [download] = await Promise.all([page.waitForEvent("download"), listRow.getByRole("button", { name: "Download cities.csv" }).click()]);
  assert.equal(download.suggestedFilename(), "cities.csv");
  assert.deepEqual(await readFile(await download.path()), csv);
  await screenshot(page, "02-with-key");
  // Finished rows can be cleared; the files stay on the service and in the list.
  await page.getByRole("button", { name: "Clear finished" }).click();
  assert.equal(await page.getByTestId("upload-row").count(), 0);
  assert.equal(await page.getByTestId("file-row").count(), 2);
});

test("the key lasts across a reload of the tab and can be forgotten", async () => {
  await page.reload();
  await page.locator('[data-testid="file-row"][data-name="cities.csv"]').waitFor();
  assert.equal(await page.getByRole("dialog", { name: "API key" }).isVisible(), false);
  await page.getByRole("button", { name: "Forget API key" }).click();
  await page.getByRole("dialog", { name: "API key" }).waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.length), 0);
  // Nothing of the owner's stays on screen, and the socket that carried the key is closed.
  await page.getByTestId("connection").getByText("Waiting for an API key").waitFor();
  await page.locator('[data-testid="file-row"]').first().waitFor({ state: "detached" });
  assert.equal(await page.getByTestId("upload-row").count(), 0);
  assert.equal(await page.locator('[aria-live="polite"]').textContent(), "", "no file name stays announced");
});

test("frames lost while the socket was down are made up for when it reconnects", async () => {
  // Every socket from now on goes through this route: frames from the service are dropped
  // while `blocking`, and the test can cut the connection.
  let blocking = true;
  const sockets = [];
  await page.routeWebSocket(/\/ws/, (ws) => {
    const server = ws.connectToServer();
    server.onMessage((message) => {
      if (!blocking) ws.send(message);
    });
    sockets.push(ws);
  });
  await page.reload();
  const dialog = page.getByRole("dialog", { name: "API key" });
  await dialog.getByLabel("Your API key").fill(KEY);
  await dialog.getByRole("button", { name: "Use this key" }).click();
  await page.getByTestId("connection").getByText("Live").waitFor({ timeout: 20_000 });

  const lines = ["n,square"];
  for (let i = 0; i < 400_000; i++) lines.push(`${i},${i * i}`);
  const csv = Buffer.from(lines.join("\n") + "\n");
  await drop(page, [{ name: "squares.csv", type: "text/csv", bytes: csv }]);
  // The file is processed while no frame reaches the page.
  const row = page.locator('[data-testid="upload-row"][data-name="squares.csv"]');
  await row.and(page.locator("[data-file-id]")).waitFor({ timeout: 60_000 });
  const id = await row.getAttribute("data-file-id");
  for (let i = 0; i < 240; i++) {
    const file = await (await fetch(`${BASE}/api/v1/files/${id}`, { headers: { "X-API-Key": KEY } })).json();
    if (file.status === "completed") break;
    await new Promise((r) => setTimeout(r, 500));
  }
  // The service drops the socket; the page says so, reconnects, and reads what it missed.
  blocking = false;
  for (const ws of sockets) await ws.close();
  await page.getByTestId("connection").getByText("Offline, reconnecting").waitFor({ timeout: 5_000 });
  await page.getByTestId("connection").getByText("Live").waitFor({ timeout: 20_000 });
  await waitForRow(page, "squares.csv", "completed");
  await page.locator('[data-testid="file-row"][data-name="squares.csv"][data-status="completed"]').waitFor({ timeout: 10_000 });
  await page.unrouteAll({ behavior: "ignoreErrors" });
});

test("the page raised no errors and its policy refused nothing", () => {
  assert.deepEqual(problems, []);
});
