"""The HTTP service: REST API, health checks and channel webhooks (``scrm serve``).

Build the ASGI application with :func:`create_app` and serve it with any ASGI server::

    from scrm.server import create_app
    api = create_app(scrm.open("postgresql://..."))
"""

from __future__ import annotations

from scrm.server.app import API_PREFIX, create_app
from scrm.server.inbox import receive_webhook

__all__ = ["API_PREFIX", "create_app", "receive_webhook"]
