"""The services registry names a key twice provided, or never provided, in a ConfigError."""

from __future__ import annotations

import pytest
from aiohttp import web

from hotline_link.core.errors import ConfigError
from hotline_link.plugin import Services

KEY = web.AppKey("test.service", str)


def test_a_service_provided_twice_is_a_config_error_naming_its_key():
    services = Services()
    services.provide(KEY, "one")
    with pytest.raises(ConfigError, match=r"test\.service.* is provided twice"):
        services.provide(KEY, "two")


def test_a_service_nobody_provides_is_a_config_error_naming_its_key():
    with pytest.raises(ConfigError, match=r"no plugin provides .*test\.service"):
        Services().get(KEY)
    assert Services(by_key={KEY: "one"}).get(KEY) == "one"
