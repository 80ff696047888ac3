"""The HTTP API (Starlette): PIMS-compatible routes, one module per resource.

``create_app`` in :mod:`cytotile.api.app` builds the application; nothing is done at import.
"""
