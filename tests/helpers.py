"""Helpers shared by several test files."""

import shutil


def chromium() -> str | None:
    """The path of a Chromium (or Chrome) binary for browser tests, or None."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None
