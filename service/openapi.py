"""The service's OpenAPI document, assembled here where the routes are (service/app.py)
with wire/openapi.py's builder; `GET /openapi.json` serves the file kept in the repo.

    python -m service.openapi > wire/openapi.json     # regenerate it (a test fails when stale)
"""
import sys

from wire.openapi import build, render

from .app import json_routes


def document():
    return build(json_routes())


if __name__ == "__main__":
    sys.stdout.write(render(document()))
