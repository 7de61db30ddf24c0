"""The protocol's error answers: `{"error": {"code": "UPPER_SNAKE", "message": "..."}}`."""
import json

from tornado.web import HTTPError


class ApiError(HTTPError):
    """An answer with the protocol's error body. Raising it changes nothing in the database:
    the transaction it escapes from is rolled back."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(status)
        self.code = code
        self.message = message


def error_body(code: str, message: str) -> bytes:
    return json.dumps({"error": {"code": code, "message": message}}, separators=(",", ":")).encode()


def invalid(message: str) -> ApiError:
    return ApiError(400, "INVALID_REQUEST", message)
