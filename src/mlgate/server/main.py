"""The application object uvicorn imports in each worker: settings from the environment."""

from __future__ import annotations

from mlgate.server.app import create_app
from mlgate.server.settings import ServerSettings

app = create_app(ServerSettings.from_env())
