"""Errors of the API, each mapped to one documented HTTP answer in ``api.app`` (as is the
view's ``deploystatus.view.errors.StoreUnavailable``, a 503)."""

from __future__ import annotations


class ApiError(Exception):
    pass


class ConfigurationError(ApiError):
    """The API cannot start with these settings; the message says which one to fix."""


class NotAuthenticated(ApiError):
    """Missing, malformed, expired or badly signed token (401). The reason is for logs only:
    clients get one indistinguishable answer."""


class ViewNotReady(ApiError):
    """Redis serves no generation of the view: it is being built from the log (503)."""


class RateLimited(ApiError):
    """The caller's user or IP went over its request budget for the window (429)."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after  # whole seconds until the window resets, at least 1
