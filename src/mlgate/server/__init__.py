"""The team server: mlgate's service layer over HTTP, for a whole team at once.

``mlgate server`` runs :func:`mlgate.server.app.create_app`: a JSON API under ``/api/v1``
described by its OpenAPI schema, and server-rendered web pages. Every request acts as the user
its token or browser session belongs to; roles and separation of duties are the service layer's,
so the server enforces exactly what the command line enforces.
"""
