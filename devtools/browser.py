"""Headless Chromium for the pages' tests and the desk benchmark: Debian's chromium and
chromium-driver, driven by selenium. The desk's browser phone gets a fake microphone (a
tone), granted without asking, and accepts the sandbox's self-signed WSS certificate as an
agent would once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hotline_link.core.errors import SandboxError

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
PAGE_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
              "--disable-background-networking", "--disable-component-update", "--disable-sync",
              "--window-size=1400,1000", "--lang=zh-CN")
PHONE_FLAGS = ("--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
               "--ignore-certificate-errors", "--autoplay-policy=no-user-gesture-required",
               # ICE host candidates as addresses, not mDNS names Asterisk cannot resolve
               "--disable-features=WebRtcHideLocalIpsWithMdns")


def chromium_available() -> bool:
    return CHROMIUM.exists() and CHROMEDRIVER.exists()


def chromium(profile: Path, *, phone: bool = False) -> Any:
    """A selenium driver for a fresh headless Chromium with its profile in ``profile``."""
    if not chromium_available():
        raise SandboxError("Debian's chromium and chromium-driver are not installed; run 'make install'")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*PAGE_FLAGS, f"--user-data-dir={profile}", *(PHONE_FLAGS if phone else ())):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)


def data_state(driver: Any, element_id: str) -> str | None:
    """An element's ``data-state`` (the pages' state markers), or None if it is missing."""
    return driver.execute_script("const e = document.getElementById(arguments[0]);"
                                 "return e ? e.dataset.state : null;", element_id)


def click_action(driver: Any, action: str) -> None:
    """Click the page's button ``[data-action=action]``."""
    driver.execute_script("document.querySelector(`[data-action='${arguments[0]}']`).click();", action)


def wait_until(driver: Any, condition: Any, timeout: float = 5) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, timeout, poll_frequency=0.05).until(condition)
