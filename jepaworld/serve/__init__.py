"""Serve a world model over HTTP (``jepaworld serve RUN``; needs the ``serve`` extra).

    from jepaworld.serve import ServeSettings, create_app
    app = create_app(jepaworld.load(run), ServeSettings(token=...))     # a FastAPI app

``app.py`` (assembles the app), ``server.py`` (what the routes share, ``ServeSettings``),
``status_routes.py`` and ``plan_routes.py`` (the routes), ``http_layer.py`` (strict JSON, body parsing,
request metrics, error handlers), ``batching.py`` (the planning thread), ``sessions.py`` (closed-loop
sessions), ``security.py`` (token, body limit, bind check), ``images.py`` (frame decoding),
``schemas.py`` (request bodies), ``metrics.py`` (Prometheus text).
"""

from __future__ import annotations

from jepaworld.serve.app import ServeSettings, create_app, plan_work
from jepaworld.serve.security import TOKEN_ENV, check_bind, is_loopback, load_token

__all__ = ["TOKEN_ENV", "ServeSettings", "check_bind", "create_app", "is_loopback", "load_token", "plan_work"]
