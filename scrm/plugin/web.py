"""What a plugin's webhook route needs: the standard inbox endpoint and the error body.

Import this module inside your ``add_routes`` hook: it loads FastAPI. A route that only
answers a platform's handshake and otherwise hands the delivery to scrm looks like::

    @hookimpl
    def add_routes(router):
        from scrm.plugin.web import receive_webhook

        router.add_api_route("/webhooks/mychannel", receive_webhook, methods=["POST"])
"""

from __future__ import annotations

from scrm.server.errors import error_response
from scrm.server.inbox import receive_webhook

__all__ = ["error_response", "receive_webhook"]
