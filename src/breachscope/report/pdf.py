"""The HTML report printed to PDF by headless Chromium (Debian's `chromium`), when it is installed.

The page is opened from a private temporary folder with Chromium's background networking off, so the
print is as offline as the HTML file itself. Interactive tables print their first page (the HTML file is
the complete report).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from breachscope.model.atomic import atomic_path
from breachscope.model.errors import BreachscopeError, UsageError

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--no-pdf-header-footer")


def find_browser() -> str:
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    raise UsageError("--format pdf needs Chromium (install Debian's `chromium` package); the HTML report "
                     "(--format html) needs nothing")


def html_to_pdf(html: str, target: Path) -> None:
    browser = find_browser()
    with tempfile.TemporaryDirectory(prefix="breachscope-pdf-") as tmp:
        page = Path(tmp) / "report.html"
        page.write_text(html, encoding="utf-8")
        with atomic_path(target) as out:
            cmd = [browser, *FLAGS, f"--user-data-dir={Path(tmp) / 'profile'}", f"--print-to-pdf={out}",
                   page.as_uri()]
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
            if done.returncode != 0 or not out.is_file() or out.stat().st_size == 0:
                tail = (done.stderr or "").strip().splitlines()[-3:]
                raise BreachscopeError(f"Chromium could not print the report to PDF (exit {done.returncode}): "
                                       + " / ".join(tail))
