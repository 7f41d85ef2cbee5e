"""ASGI entry point for any server: ``hypercorn quarkbot.asgi:app`` or ``uvicorn``."""

from quarkbot import gc_tuning
from quarkbot.app import create_app

gc_tuning.enable()  # a serving process: start-up's objects are frozen once it is over
app = create_app()
