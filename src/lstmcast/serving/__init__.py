"""The forecast service: ``create_app(model_dir)`` (FastAPI) and ``run_server`` (uvicorn).

Needs the ``serve`` extra: ``pip install 'lstmcast[serve]'``.
"""

from lstmcast.serving.app import create_app, run_server

__all__ = ["create_app", "run_server"]
