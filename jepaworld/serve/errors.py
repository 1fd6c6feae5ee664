"""The server's errors: every failure is a JSON body ``{"error": "...", "detail": [...]}``."""

from __future__ import annotations

from fastapi import HTTPException


class ApiError(HTTPException):
    """A request the client can fix (4xx), or a refusal (503 busy, 504 timeout); the message says what to do."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None,
                 detail: list[str] | None = None) -> None:  # fmt: skip
        super().__init__(status_code=status, detail=message, headers=headers)
        self.items = detail
