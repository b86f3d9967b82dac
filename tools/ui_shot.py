"""A screenshot of a Dagster UI page after clicking a link on it (for docs/images/).

    python -m tools.ui_shot URL OUT.png [LINK_TEXT]

Headless Chromium (Debian's `chromium`) driven by Playwright, for pages where what should be
seen opens on a click (a Markdown preview opens in a dialog). Used by scripts/screenshots.sh;
not part of the project or of CI.
"""

from __future__ import annotations

import sys

from playwright.sync_api import sync_playwright


def main(url: str, out: str, link: str | None = None) -> None:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        page.goto(url, wait_until="networkidle")
        if link:
            page.get_by_text(link).first.click()
            page.wait_for_timeout(1500)
        page.screenshot(path=out)
        browser.close()


if __name__ == "__main__":
    main(*sys.argv[1:4])
