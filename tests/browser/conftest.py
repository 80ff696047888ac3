"""Fixtures shared by the browser tests: the site (real imports), its server and Chromium."""

from tests.browser.test_viewer import browser, server, site

__all__ = ["browser", "server", "site"]
