"""Errors users can act on: a Vietnamese message for the panel, a status for the API."""

from __future__ import annotations


class LoaError(Exception):
    """Base of the errors shown to users; ``message`` is in Vietnamese."""

    status_code = 400
    title = "Yêu cầu không hợp lệ"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def details(self) -> dict[str, object]:
        """Extra members of the API's problem document."""
        return {}


class InvalidInput(LoaError):
    status_code = 422
    title = "Dữ liệu không hợp lệ"


class NotFound(LoaError):
    status_code = 404
    title = "Không tìm thấy"


class Forbidden(LoaError):
    status_code = 403
    title = "Không có quyền"


class Unauthenticated(LoaError):
    status_code = 401
    title = "Chưa đăng nhập"


class Conflict(LoaError):
    status_code = 409
    title = "Xung đột trạng thái"


class Gone(LoaError):
    status_code = 410
    title = "Đã hết hạn"


class TooManyRequests(LoaError):
    status_code = 429
    title = "Thử quá nhiều lần"
