// Debian's Chromium (/usr/bin/chromium, or FILEPROC_CHROMIUM) driven by playwright-core, with
// the flags a machine without outside network needs, and a fresh empty profile per launch.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

export const CHROMIUM = process.env.FILEPROC_CHROMIUM || "/usr/bin/chromium";

/** A browser context of a fresh Chromium; `close()` also removes its profile. */
export async function launch() {
  const profile = mkdtempSync(join(tmpdir(), "fileproc-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
    viewport: { width: 1400, height: 1000 },
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
