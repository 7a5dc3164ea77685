"""BentoML's exception names, with the HTTP status each one answers with.

User code raises these from an ``@api`` method to choose the status: a 4xx
answers ``{"error": "<message>"}``, a 5xx the generic error body (the message
goes to the server log, never to the client).
"""

from __future__ import annotations

from http import HTTPStatus


class BentoMLException(Exception):
    """Base class of every tiffin exception; answers 500."""

    error_code: HTTPStatus = HTTPStatus.INTERNAL_SERVER_ERROR

    def __init__(self, message: str = "", *, error_code: HTTPStatus | None = None) -> None:
        super().__init__(message)
        self.message = message
        if error_code is not None:
            self.error_code = error_code


TiffinError = BentoMLException


class InvalidArgument(BentoMLException):
    error_code = HTTPStatus.BAD_REQUEST


class BadInput(InvalidArgument):
    error_code = HTTPStatus.BAD_REQUEST


class StateException(BentoMLException):
    error_code = HTTPStatus.BAD_REQUEST


class NotFound(BentoMLException):
    error_code = HTTPStatus.NOT_FOUND


class ConflictError(BentoMLException):
    error_code = HTTPStatus.CONFLICT


class UnprocessableEntity(BentoMLException):
    error_code = HTTPStatus.UNPROCESSABLE_ENTITY


class TooManyRequests(BentoMLException):
    error_code = HTTPStatus.TOO_MANY_REQUESTS


class InternalServerError(BentoMLException):
    error_code = HTTPStatus.INTERNAL_SERVER_ERROR


class ServiceUnavailable(BentoMLException):
    error_code = HTTPStatus.SERVICE_UNAVAILABLE


class BentoMLConfigException(BentoMLException):
    """A service definition is wrong: raised at definition time, never per request."""


class MissingDependencyException(BentoMLException):
    """An optional package (FastAPI, Quart, ...) is needed but not installed."""


class ImportServiceError(BentoMLException):
    """``tiffin serve TARGET`` could not find or import the service."""


class ServiceNotRunning(RuntimeError):
    """``get_current_service()`` was called where no service is running."""


class StartupError(BentoMLException):
    """A service failed to start; the message names the service, the step and the cause."""


__all__ = [
    "BadInput",
    "BentoMLConfigException",
    "BentoMLException",
    "ConflictError",
    "ImportServiceError",
    "InternalServerError",
    "InvalidArgument",
    "MissingDependencyException",
    "NotFound",
    "ServiceNotRunning",
    "ServiceUnavailable",
    "StartupError",
    "StateException",
    "TiffinError",
    "TooManyRequests",
    "UnprocessableEntity",
]
