"""The REST API (FastAPI, OpenAPI at /openapi.json), authentication and live updates."""
