from types import SimpleNamespace

from hotline_link.web.openapi import OPENAPI
from tests.helpers import web_app_of


def _template(resource) -> str:
    info = resource.get_info()
    return info.get("path") or info.get("formatter")


def test_every_route_is_documented_and_nothing_else():
    app = web_app_of(SimpleNamespace(tokens=None))
    served = {(_template(r.resource), r.method.lower()) for r in app.router.routes() if r.method != "HEAD"}
    documented = {(path, method) for path, item in OPENAPI["paths"].items() for method in item}
    assert served == documented


def test_error_schema_is_referenced_by_every_4xx():
    for item in OPENAPI["paths"].values():
        for operation in item.values():
            for status, response in operation["responses"].items():
                if status.startswith("4") and "content" in response:
                    schema = response["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Error"}
