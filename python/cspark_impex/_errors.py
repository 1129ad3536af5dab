"""Errors with the official SDK's names, carrying the engine's error code,
the request id and the diagnostics."""

import json
from typing import Any, Dict, Optional

__all__ = [
    'SparkError', 'SparkSdkError', 'RetryTimeoutError', 'SparkApiError', 'BadRequestError', 'UnauthorizedError',
    'ForbiddenError', 'NotFoundError', 'ConflictError', 'UnsupportedMediaTypeError', 'UnprocessableEntityError',
    'RateLimitError', 'InternalServerError', 'ServiceUnavailableError', 'GatewayTimeoutError', 'UnknownApiError',
    'OutcomeUnknownError', 'PollTimeoutError', 'error_from',
]


class SparkError(Exception):
    """Any failure. `message` says what went wrong, `cause` what caused it
    (the diagnostics), `details` a one-line account of both; `code` is the
    engine's error name ("job_failed", "not_found", ...)."""

    def __init__(self, message: str, cause: Any = None, *, code: str = 'sdk_error',
                 diagnostics: Optional[Dict[str, Any]] = None):
        super().__init__(message)
        self.message = message
        self.cause = cause
        self.code = code
        self.diagnostics: Dict[str, Any] = diagnostics or {}

    @property
    def name(self) -> str:
        return type(self).__name__

    @property
    def status(self) -> int:
        return int(self.diagnostics.get('http_status') or 0)

    @property
    def request_id(self) -> str:
        return str(self.diagnostics.get('request_id') or '')

    @property
    def details(self) -> str:
        text = self.diagnostics.get('text') or ''
        return f'{self.message} ({text})' if text else self.message

    def to_dict(self) -> Dict[str, Any]:
        return {'name': self.name, 'code': self.code, 'message': self.message, 'status': self.status,
                'request_id': self.request_id, 'diagnostics': self.diagnostics}

    def __str__(self) -> str:
        return f'{self.name}: {self.details}'

    def __repr__(self) -> str:
        return f'<{self.name} {self.code}>'

    @staticmethod
    def sdk(message: str, cause: Any = None) -> 'SparkSdkError':
        return SparkSdkError(message, cause)


class SparkSdkError(SparkError):
    """Bad input found before anything was sent."""


class RetryTimeoutError(SparkSdkError):
    """The status checks ran out (`max_retries` or the deadline)."""


class SparkApiError(SparkError):
    """The server answered with an error (or a job ended in one)."""


class BadRequestError(SparkApiError): ...
class UnauthorizedError(SparkApiError): ...
class ForbiddenError(SparkApiError): ...
class NotFoundError(SparkApiError): ...
class ConflictError(SparkApiError): ...
class UnsupportedMediaTypeError(SparkApiError): ...
class UnprocessableEntityError(SparkApiError): ...
class RateLimitError(SparkApiError): ...
class InternalServerError(SparkApiError): ...
class ServiceUnavailableError(SparkApiError): ...
class GatewayTimeoutError(SparkApiError): ...
class UnknownApiError(SparkApiError): ...


class OutcomeUnknownError(SparkError):
    """The job exists (or may) but its outcome could not be learned: it was
    not sent again. `job_id` names it when known; check it with
    `exports.get_status` / `imports.get_status` or resume it."""

    @property
    def job_id(self) -> str:
        import re
        m = re.search(r'job ([0-9A-Za-z-]{6,})', self.diagnostics.get('detail') or '')
        return m.group(1) if m else ''


class PollTimeoutError(RetryTimeoutError, OutcomeUnknownError):
    """The job was still running when the checks ran out: it may still
    finish (`job_id`)."""


_BY_CODE = {
    'bad_request': BadRequestError, 'unprocessable_entity': UnprocessableEntityError,
    'unsupported_media_type': UnsupportedMediaTypeError,
    'unauthorized': UnauthorizedError, 'forbidden': ForbiddenError, 'not_found': NotFoundError,
    'conflict': ConflictError, 'rate_limited': RateLimitError, 'server_error': InternalServerError,
    'bad_gateway': ServiceUnavailableError, 'service_unavailable': ServiceUnavailableError,
    'gateway_timeout': GatewayTimeoutError, 'http_status': UnknownApiError, 'job_failed': SparkApiError,
    'job_cancelled': SparkApiError, 'import_partially_failed': SparkApiError, 'hash_mismatch': SparkApiError,
    'no_files': SparkApiError,
    'job_state_unknown': OutcomeUnknownError, 'import_outcome_unknown': OutcomeUnknownError,
    'poll_timeout': PollTimeoutError,
    'invalid_base_url': SparkSdkError, 'unsupported_scheme': SparkSdkError, 'missing_tenant': SparkSdkError,
    'missing_credentials': SparkSdkError, 'oauth_file_unreadable': SparkSdkError, 'invalid_argument': SparkSdkError,
    'package_too_large': SparkSdkError, 'file_exists': SparkSdkError,
}


def error_from(code: str, message: str, diagnostics: Any) -> SparkError:
    """The exception for an engine failure (code, message, diagnostics as a dict or JSON text)."""
    diag = json.loads(diagnostics) if isinstance(diagnostics, str) else dict(diagnostics or {})
    cls = _BY_CODE.get(code, SparkError)
    said = ': '.join(x for x in (diag.get('api_code'), diag.get('api_message')) if x)
    detail = said or diag.get('detail') or ''
    text = f'{message}: {detail}' if detail else message
    return cls(text, diag or None, code=code, diagnostics=diag)
