"""The workflow report (`snakemake --report`) of the finished tiny run, in headless Chromium.

Snakemake's HTML report is a React app whose results (plots, tables, captions) are embedded
as data URIs in a `var results = {...}` script. The first test reads that data; the second
opens the report in headless Chromium with a small driver script appended, which goes through
the app the way a reader does (menu, category, a result's page, its eye button) and records
what the page shows: every plot must be displayed as a decoded image of the right size, with
its caption. The browser run also leaves a screenshot (report.png beside the report) of the
summary plot as the app shows it.

Chromium comes from Debian (`make system-deps`, which `make test` runs). Without it the
browser test fails as root or in CI (where it can and must be installed) and skips elsewhere.
"""

from __future__ import annotations

import base64
import html
import json
import os
import re
import shutil
import struct
import subprocess

import pytest

from tests.conftest import TINY, snakemake

pytestmark = pytest.mark.workflow

PLOTS = ["results/B1/prune_sweep.png", "results/B2/prune_sweep.png", "results/summary.png"]
TABLES = ["results/summary.csv", "results/summary_triggers.csv"]
CATEGORIES = {"Pruning sweeps", "Summary"}


@pytest.fixture(scope="module")
def report(tiny_run, tmp_path_factory):
    path = tmp_path_factory.mktemp("report") / "report.html"
    snakemake(tiny_run, "--report", str(path), configfile=TINY)
    return path


def embedded(report_html: str, var: str):
    m = re.search(rf'<script id="{var}">\s*var {var} = (\{{.*?\}});\s*</script>', report_html, re.S)
    assert m, f"the report has no embedded '{var}'"
    return json.loads(m.group(1))


def data_uri_bytes(uri: str) -> bytes:
    head, _, data = uri.partition(",")
    assert head.startswith("data:") and head.endswith(";base64"), head[:80]
    return base64.b64decode(data)


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", data[16:24])


def test_report_embeds_every_plot_and_table_with_its_caption(report, tiny_run):
    text = report.read_text()
    results = embedded(text, "results")
    categories = embedded(text, "categories")
    assert set(categories) == CATEGORIES
    for path in PLOTS + TABLES:
        assert path in results, f"{path} is not in the report"
        entry = results[path]
        assert data_uri_bytes(entry["data_uri"]) == (tiny_run / path).read_bytes(), (
            f"{path}: embedded bytes differ"
        )
        assert len(re.sub(r"<[^>]+>", "", entry["caption"]).strip()) > 40, f"{path} has no caption"
    assert (
        "BadNet B2" in results["results/B2/prune_sweep.png"]["caption"]
    )  # the caption's template ran
    for path in PLOTS:
        assert min(png_size((tiny_run / path).read_bytes())) > 100


# -- in a browser ------------------------------------------------------------------------

# Appended to a copy of the report: waits for the app, then, like a reader, opens each
# category and each result, clicks a result's eye button and waits for the image to decode.
# It writes what it saw, step by step, into <pre id="goodnet-check">, which --dump-dom
# returns. With #show=<path> in the URL it only opens that result (for the screenshot).
DRIVER = r"""
<script>
(async () => {
  const out = { errors: [], menu: null, categories: {}, results: {}, done: false, step: "start" };
  window.addEventListener("error", (ev) => out.errors.push(String(ev.message)));
  const pre = document.createElement("pre");
  pre.id = "goodnet-check";
  pre.style.display = "none";
  document.body.appendChild(pre);
  const save = (step) => { out.step = step; pre.textContent = JSON.stringify(out); };
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const settle = () => sleep(300);
  const navText = () => document.querySelector("#app nav").innerText;

  // A result's page in the menu, then its eye button: an image is shown in the content
  // area, anything else is a download link.
  async function open(path) {
    const entry = results[path];
    const seen = { caption: null, button: false, shown: false };
    app.showResultInfo(path);
    await settle();
    seen.caption = navText();
    const eye = document.querySelector('#app nav a[iconname="eye"]');
    seen.button = !!eye;
    if (eye && entry.mime_type.startsWith("image/")) {
      eye.click();
      await settle();
      const img = Array.from(document.querySelectorAll("#app img"))
        .find((x) => x.src === entry.data_uri);
      if (img) {
        // Poll, never await img.decode(): while only a decode is pending, Chromium counts
        // the page as idle and jumps virtual time to the end of the budget.
        for (let i = 0; i < 1000 && !img.complete; i++) await sleep(20);
        const box = img.getBoundingClientRect();
        Object.assign(seen, {
          shown: img.complete && img.naturalWidth > 0 && box.width > 0 && box.height > 0,
          naturalWidth: img.naturalWidth, naturalHeight: img.naturalHeight,
          width: box.width, height: box.height,
        });
      }
    } else if (eye) {
      seen.download = eye.getAttribute("href") === entry.data_uri;
    }
    out.results[path] = seen;
    save(path);
  }

  try {
    save("start");
    const started = () => typeof app !== "undefined" && document.querySelector("#app nav");
    for (let i = 0; i < 100 && !started(); i++) {
      await sleep(100);
    }
    if (typeof app === "undefined") throw new Error("the report app never started");
    await settle();
    if (location.hash.startsWith("#show=")) {  // only show one result (for a screenshot)
      await open(decodeURIComponent(location.hash.slice(6)));
    } else {
      out.menu = navText();
      save("menu");
      for (const category of Object.keys(categories)) {
        app.setView({ navbarMode: "menu" });  // back to the menu, as the home breadcrumb does
        await settle();
        app.showCategory(category);
        await settle();
        out.categories[category] = navText();
        save(category);
      }
      for (const path of Object.keys(results)) {
        await open(path);
      }
    }
  } catch (e) {
    out.errors.push(String((e && e.stack) || e));
  }
  out.done = true;
  save("done");
})();
</script>
"""


def chromium() -> str | None:
    for name in (
        os.environ.get("GOODNET_CHROMIUM"),
        "chromium",
        "chromium-browser",
        "google-chrome",
    ):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


# Virtual time: Chromium dumps the DOM (or takes the screenshot) once this much virtual
# time has passed, and it fast-forwards virtual time whenever no timer or fetch is pending.
# The driver therefore only ever waits on timers; the budget is generous all the same
# (the report's vega views keep timers running too; a real run takes seconds).
VIRTUAL_MS = 6_000_000


def run_chromium(browser, url, tmp_path, *extra, timeout=180):
    cmd = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        "--window-size=1400,1000",
        f"--virtual-time-budget={VIRTUAL_MS}",
        *extra,
        url,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"chromium failed ({proc.returncode}):\n{proc.stderr[-3000:]}"
    return proc.stdout


def test_report_renders_its_plots_in_headless_chromium(report, tiny_run, tmp_path):
    browser = chromium()
    if browser is None:
        msg = "chromium not found: `make system-deps` installs it (Debian package chromium)"
        if os.geteuid() == 0 or os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    text = report.read_text()
    results = embedded(text, "results")
    page = tmp_path / "report-check.html"
    i = text.rindex("</body>")
    page.write_text(text[:i] + DRIVER + text[i:])

    dom = run_chromium(browser, page.as_uri(), tmp_path, "--dump-dom")
    m = re.search(r'<pre id="goodnet-check"[^>]*>(.*?)</pre>', dom, re.S)
    assert m, "the driver left no result: the report's scripts did not run"
    seen = json.loads(html.unescape(m.group(1)))
    assert not seen["errors"], seen["errors"]
    assert seen["done"], f"the driver stopped after step {seen['step']!r}"

    for category in CATEGORIES:
        assert category in seen["menu"], f"the menu does not show {category}"
    assert (
        "B1" in seen["categories"]["Pruning sweeps"]
        and "B2" in seen["categories"]["Pruning sweeps"]
    )
    assert (
        "summary.png" in seen["categories"]["Summary"]
        and "summary.csv" in seen["categories"]["Summary"]
    )

    for path in PLOTS:
        s = seen["results"][path]
        first_words = " ".join(re.sub(r"<[^>]+>", "", results[path]["caption"]).split()[:6])
        assert first_words in " ".join(s["caption"].split()), f"{path}: caption not shown"
        assert s["button"], f"{path}: no button to show the plot"
        assert s["shown"], f"{path} is not displayed: {s}"
        assert (s["naturalWidth"], s["naturalHeight"]) == png_size((tiny_run / path).read_bytes())
    for path in TABLES:
        s = seen["results"][path]
        assert s["button"] and s["download"], f"{path}: no download of the table: {s}"

    # A screenshot of the app showing the summary plot, for people (kept with the report).
    shot = report.parent / "report.png"
    run_chromium(
        browser, page.as_uri() + "#show=results/summary.png", tmp_path, f"--screenshot={shot}"
    )
    assert shot.is_file() and shot.stat().st_size > 20_000
