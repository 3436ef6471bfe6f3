"""One FastAPI process: the JSON API under /api, the Gradio chat at /."""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from fastapi import FastAPI

from ingest.settings import Settings

from .answer import Answerer
from .api import create_api
from .index import IndexHandle


def create_app(settings: Settings, handle: IndexHandle | None = None, answerer: Answerer | None = None,
               with_ui: bool = True) -> FastAPI:
    handle = handle or IndexHandle(settings)
    answerer = answerer or Answerer(settings, handle)
    app = create_api(settings, handle, answerer)
    if with_ui:
        import gradio as gr

        from .ui import CSS, JS_HEAD, build_ui, theme

        demo = build_ui(settings, handle, answerer)
        app = gr.mount_gradio_app(app, demo, path="/", ssr_mode=False, footer_links=["api"],
                                  theme=theme(), css=CSS, head=JS_HEAD)
    return app
