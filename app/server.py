"""One FastAPI process: the JSON API under /api, the Gradio chat at /."""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from fastapi import FastAPI

from ingest.settings import Settings

from .answer import Answerer
from .api import add_api_fallbacks, create_api
from .auth import protect
from .index import IndexHandle
from .mcp_server import mount_mcp
from .openai_compat import openai_router
from .weblayer import AccessLog, DisconnectOnShutdown, SecurityHeaders


def create_app(settings: Settings, handle: IndexHandle | None = None, answerer: Answerer | None = None,
               with_ui: bool = True) -> FastAPI:
    handle = handle or IndexHandle(settings)
    answerer = answerer or Answerer(settings, handle)
    app = create_api(settings, handle, answerer)
    add_api_fallbacks(app)  # before the Gradio mount at "/", which would otherwise take unknown /api/* paths
    # the standard doors onto the same answerer: OpenAI-compatible /v1, MCP over streamable HTTP at /mcp
    app.include_router(openai_router(settings, handle, answerer))
    mount_mcp(app, settings, handle, answerer)
    if with_ui:
        import gradio as gr

        from fastapi.staticfiles import StaticFiles

        from .ui import ASSETS_PATH, CSS, JS_HEAD, STATIC_DIR, build_ui, theme

        app.mount(ASSETS_PATH, StaticFiles(directory=STATIC_DIR), name="ui-assets")  # the page's script
        demo = build_ui(settings, handle, answerer)
        app = gr.mount_gradio_app(app, demo, path="/", ssr_mode=False, footer_links=["gradio", "settings"],
                                  theme=theme(), css=CSS, head=JS_HEAD)
    app = protect(app, settings)  # API_TOKEN, body limit and origin policy over every route, mounts included
    app.add_middleware(SecurityHeaders)  # CSP on every response, the sign-in page and errors included
    app.add_middleware(DisconnectOnShutdown)  # Ctrl-C ends open event streams at once
    app.add_middleware(AccessLog, log_questions=settings.log_questions)  # outermost: one line per request
    return app
