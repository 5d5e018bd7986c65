"""Errors the emulator answers with, shaped as the CallRail docs describe: ``{"error": "..."}``."""

from __future__ import annotations


class ApiError(Exception):
    """An error answered to the client: an HTTP status and a JSON body ``{"error": message}``."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def bad_request(message: str) -> ApiError:
    return ApiError(400, message)


def not_found(what: str = "Record") -> ApiError:
    return ApiError(404, f"{what} not found")


def unprocessable(message: str) -> ApiError:
    return ApiError(422, message)


def forbidden() -> ApiError:
    return ApiError(403, "You do not have permission to perform the requested action")
