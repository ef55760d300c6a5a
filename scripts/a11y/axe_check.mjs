// axe-core over local HTML pages, in headless Chromium: prints the violations as JSON.
//
//     node scripts/a11y/axe_check.mjs BROWSER PAGE.html [PAGE.html ...]
//
// BROWSER is a Chromium executable (Debian's /usr/bin/chromium): playwright-core drives it and
// downloads no browser of its own. Requests that leave the file system (CDNs, fonts) are refused,
// so the check is offline. Prints [{page, violations: [{id, impact, help, nodes}]}]; which
// impacts fail is up to the caller (scripts/check_book.py).
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { chromium } from "playwright-core";

const require = createRequire(import.meta.url);
const AXE = require.resolve("axe-core/axe.min.js");
// What a root, offline, headless Chromium needs (no sandbox; no calls home).
const FLAGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

const [executablePath, ...pages] = process.argv.slice(2);
if (!executablePath || pages.length === 0) {
  console.error("usage: node axe_check.mjs BROWSER PAGE.html [PAGE.html ...]");
  process.exit(2);
}

const browser = await chromium.launch({ executablePath, args: FLAGS, headless: true });
const results = [];
try {
  const context = await browser.newContext();
  await context.route((url) => url.protocol !== "file:", (route) => route.abort());
  for (const file of pages) {
    const page = await context.newPage();
    // once nothing is loading, the page's scripts have run (Font Awesome's icons are SVG)
    await page.goto(pathToFileURL(file).href, { waitUntil: "networkidle" });
    await page.addScriptTag({ path: AXE });
    const violations = await page.evaluate(async () => {
      const { violations } = await window.axe.run(document, { resultTypes: ["violations"] });
      return violations.map((v) => ({
        id: v.id,
        impact: v.impact,
        help: v.help,
        nodes: v.nodes.map((n) => ({
          target: n.target.join(" "),
          html: n.html.slice(0, 160),
          summary: n.failureSummary,
        })),
      }));
    });
    results.push({ page: file, violations });
    await page.close();
  }
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(results));
