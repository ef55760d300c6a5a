// What scrolls sideways on local HTML pages at 1280 px, in headless Chromium: prints JSON.
//
//     node scripts/a11y/overflow_check.mjs BROWSER PAGE.html [PAGE.html ...]
//
// BROWSER is a Chromium executable, driven by playwright-core (as axe_check.mjs is), offline.
// A block overflows when its content is wider than its box (scrollWidth > clientWidth): a code
// block or an output with a scroll bar, or text that spills out of the column. Blocks whose
// overflow is clipped on purpose (overflow-x: hidden or clip: screen-reader text, truncated
// titles) are left alone, as are inline elements (inline math), and so are tables that scroll inside a frame with a visible hint
// (SCROLL_FRAME: viz.table's, marked `data-scroll-hint`, and the theme's for the pages' own
// tables, both styled in _static/course.css).
// Also counts the page's math and how much of it MathJax rendered. Prints
// [{page, pageOverflow, blocks: [{what, text, contentWidth, boxWidth}], math, mathRendered}].
import { pathToFileURL } from "node:url";
import { chromium } from "playwright-core";

const FLAGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const VIEWPORT = { width: 1280, height: 900 };
const SCROLL_FRAME = "[data-scroll-hint], div.pst-scrollable-table-container";

// Runs in the page: the blocks of its main content that overflow.
function measure(frame) {
  const root = document.querySelector("main") || document.body;
  const clipped = new Set(["hidden", "clip"]);
  const describe = (el) => {
    const classes = [...el.classList].slice(0, 3).map((c) => `.${c}`).join("");
    const id = el.id ? `#${el.id}` : "";
    const section = el.closest("section[id]");
    return `${el.tagName.toLowerCase()}${id}${classes}${section ? ` in #${section.id}` : ""}`;
  };
  // inside clipped content (screen-reader text, MathJax's hidden MathML) nothing shows
  const shown = (el) => {
    for (let up = el.parentElement; up && up !== root; up = up.parentElement) {
      if (clipped.has(getComputedStyle(up).overflowX)) return false;
    }
    return true;
  };
  // blocks only (a formula is measured as a whole: its glyphs overhang their boxes a little)
  const block = (el) =>
    !/^inline/.test(getComputedStyle(el).display) && !el.parentElement.closest("mjx-container");
  const wide = [...root.querySelectorAll("*")].filter(
    (el) =>
      el.clientWidth > 0 &&
      !el.closest(frame) &&
      !clipped.has(getComputedStyle(el).overflowX) &&
      el.scrollWidth > el.clientWidth + 1 &&
      block(el) &&
      shown(el),
  );
  // what spills out of a block widens its ancestors too: report the innermost block only
  const blocks = wide
    .filter((el) => !wide.some((other) => other !== el && el.contains(other)))
    .map((el) => ({
      what: describe(el),
      text: el.textContent.trim().replace(/\s+/g, " ").slice(0, 80),
      contentWidth: el.scrollWidth,
      boxWidth: el.clientWidth,
    }));
  const page = document.scrollingElement;
  return {
    pageOverflow: Math.max(0, page.scrollWidth - window.innerWidth),
    blocks,
    math: document.querySelectorAll("span.math, div.math").length,
    mathRendered: document.querySelectorAll("mjx-container").length,
  };
}

const [executablePath, ...pages] = process.argv.slice(2);
if (!executablePath || pages.length === 0) {
  console.error("usage: node overflow_check.mjs BROWSER PAGE.html [PAGE.html ...]");
  process.exit(2);
}

const browser = await chromium.launch({ executablePath, args: FLAGS, headless: true });
const results = [];
try {
  const context = await browser.newContext({ viewport: VIEWPORT });
  await context.route((url) => url.protocol !== "file:", (route) => route.abort());
  for (const file of pages) {
    const page = await context.newPage();
    await page.goto(pathToFileURL(file).href, { waitUntil: "networkidle" });
    // MathJax typesets after the page loads; wait for it where the page has math
    await page.evaluate(() => window.MathJax?.startup?.promise);
    results.push({ page: file, ...(await page.evaluate(measure, SCROLL_FRAME)) });
    await page.close();
  }
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(results));
