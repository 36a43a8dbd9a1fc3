"""The HTTP edge: tokens and roles, middlewares, JSON bodies, the OpenAPI document.
Imports only ``hotline_link.core``."""
