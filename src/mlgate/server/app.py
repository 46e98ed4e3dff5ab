"""The team server's application: the JSON API, the web pages and the shared store."""

from __future__ import annotations

import logging

from fastapi import Depends, FastAPI

from mlgate import __version__
from mlgate.registry.db import Store
from mlgate.server import api, errors, web
from mlgate.server.accounts import Accounts
from mlgate.server.guards import refuse_nul
from mlgate.server.projects import Projects
from mlgate.server.settings import ServerSettings

logger = logging.getLogger(__name__)

DESCRIPTION = """\
mlgate's governance actions for a team: projects, documents, checks, evidence, approvals,
waivers, gates, deployments, monitoring, reports and the audit trail. Every request acts as the
user its bearer token belongs to (`mlgate token create`); roles and separation of duties are
enforced here exactly as on the command line.
"""


def create_app(settings: ServerSettings, store: Store | None = None) -> FastAPI:
    """Return the server's ASGI application over ``settings``' store (migrated on open)."""
    settings.prepare()
    store = store or Store(settings.database_url)
    app = FastAPI(
        title="mlgate",
        version=__version__,
        description=DESCRIPTION,
        openapi_url="/api/v1/openapi.json",
        # The interactive docs pages load their scripts from a CDN; the server works offline,
        # so it serves the schema alone (any OpenAPI viewer reads it).
        docs_url=None,
        redoc_url=None,
        dependencies=[Depends(refuse_nul)],
    )
    app.state.settings = settings
    app.state.store = store
    app.state.accounts = Accounts(store, settings.session_hours)
    app.state.projects = Projects(settings, store)

    errors.install(app, web.error_page)
    app.include_router(api.router, prefix="/api/v1")
    app.include_router(web.router)
    logger.info(
        "team server ready: store %s, home %s",
        store.engine.url.render_as_string(hide_password=True),
        settings.home,
    )
    return app
