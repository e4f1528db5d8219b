"""MCP Apps: the basket and the order as pages a host can show beside the tool result.

Two self-contained HTML files ship in this package. They are registered with the SDK's public
MCP Apps extension (:class:`mcp.server.apps.Apps`), which builds each ``ui://`` resource with
the ``text/html;profile=mcp-app`` type and its CSP. The SDK serves those resources itself only
through ``MCPServer(extensions=...)``; rails-mcp runs the lowlevel ``Server``, so this module is
the one seam between them: :func:`listed` and :func:`page` give the resource catalogue and hub
what ``resources/list`` and ``resources/read`` return for the pages, and :func:`advertise_apps`
puts the extension in the capabilities.

A page renders only the structured content of the tool result the host sends it, with
``textContent`` (wire text stays data), and calls no tool: placing and approving stay with the
model and the host's approval prompt, never a click in a page.
"""

from __future__ import annotations

from importlib.resources import files
from typing import Any

from mcp.server import Server
from mcp.server.apps import APP_MIME_TYPE, EXTENSION_ID, Apps, ResourceCsp
from mcp.server.mcpserver.resources import Resource as AppResource
from mcp_types import Resource, TextResourceContents

__all__ = ["APP_MIME_TYPE", "BASKET_APP", "EXTENSION_ID", "ORDER_APP", "advertise_apps", "listed", "page"]

BASKET_APP = "ui://rails/basket.html"
ORDER_APP = "ui://rails/order.html"


def _text(name: str) -> str:
    return files(__name__).joinpath(name).read_text(encoding="utf-8")


def _html(name: str) -> str:
    """A page with the shared head, style and script written into it: one file, nothing fetched."""
    page = _text(name).replace("<!-- head.html -->", _text("head.html"), 1)
    for shared in ("app.css", "app.js"):
        page = page.replace(f"/* {shared} */", _text(shared), 1)
    return page


#: (uri, file, name, title, description) of each page.
_PAGES = (
    (
        BASKET_APP,
        "basket.html",
        "basket-app",
        "Basket review",
        "The priced basket recommend_basket returned: parts by supplier with prices, which supplier can "
        "confirm, the ready selection and its total, parts no confirmable supplier offers.",
    ),
    (
        ORDER_APP,
        "order.html",
        "order-app",
        "Order",
        "One order as track_procurement or reconcile_invoice returned it: lines, total, status placed, "
        "confirmed, invoiced, and the reconciliation.",
    ),
)


def _apps() -> Apps:
    """The pages, each with a CSP that allows no outside domain at all."""
    apps = Apps()
    for uri, file, name, title, description in _PAGES:
        apps.add_html_resource(
            uri,
            _html(file),
            name=name,
            title=title,
            description=description,
            csp=ResourceCsp(),
            prefers_border=True,
        )
    return apps


APPS = _apps()
_BY_URI: dict[str, AppResource] = {binding.resource.uri: binding.resource for binding in APPS.resources()}


def listed() -> list[Resource]:
    """The apps as ``resources/list`` shows them (a host reads them by the tool's resourceUri)."""
    return [
        Resource(
            uri=uri,
            name=app.name or uri,
            title=app.title,
            description=app.description,
            mime_type=app.mime_type,
            _meta=app.meta,
        )
        for uri, app in _BY_URI.items()
    ]


async def page(uri: str) -> TextResourceContents | None:
    """The page at ``uri`` as ``resources/read`` returns it (None: ``uri`` is no page)."""
    app = _BY_URI.get(uri)
    if app is None:
        return None
    text = await app.read()
    assert isinstance(text, str)  # both pages are text resources
    return TextResourceContents(uri=uri, mime_type=app.mime_type, text=text, _meta=app.meta)


def advertise_apps(server: Server[Any]) -> None:
    """Advertise the MCP Apps extension in ``server``'s capabilities (both protocol eras)."""
    server.extensions[APPS.identifier] = APPS.settings()
