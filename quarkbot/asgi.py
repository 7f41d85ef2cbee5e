"""ASGI entry point for any server: ``hypercorn quarkbot.asgi:app`` or ``uvicorn``."""

from quarkbot.app import create_app

app = create_app()
