# Types of cspark_impex (the official Python SDK's impex names and arguments).
import logging
import os
from typing import Any, BinaryIO, Callable, Coroutine, Dict, List, Literal, Mapping, Optional, Sequence, TypeVar, Union

__title__: str
__version__: str

_T = TypeVar('_T')
FileFilter = Literal['migrate', 'onpremises']
VersionFilter = Literal['latest', 'all']
IfPresent = Literal['abort', 'replace', 'add_version']
Upgrade = Literal['major', 'minor', 'patch']
Destination = Union[str, Sequence[str], Mapping[str, str], Sequence[Mapping[str, str]]]
Package = Union[str, os.PathLike, BinaryIO, bytes, bytearray, memoryview]
Progress = Optional[Callable[[Dict[str, Any]], Any]]

class SparkError(Exception):
    message: str
    cause: Any
    code: str
    diagnostics: Dict[str, Any]
    def __init__(self, message: str, cause: Any = ..., *, code: str = ..., diagnostics: Optional[Dict[str, Any]] = ...) -> None: ...
    @property
    def name(self) -> str: ...
    @property
    def status(self) -> int: ...
    @property
    def request_id(self) -> str: ...
    @property
    def details(self) -> str: ...
    def to_dict(self) -> Dict[str, Any]: ...
    @staticmethod
    def sdk(message: str, cause: Any = ...) -> SparkSdkError: ...

class SparkSdkError(SparkError): ...
class RetryTimeoutError(SparkSdkError): ...
class SparkApiError(SparkError): ...
class BadRequestError(SparkApiError): ...
class UnauthorizedError(SparkApiError): ...
class ForbiddenError(SparkApiError): ...
class NotFoundError(SparkApiError): ...
class ConflictError(SparkApiError): ...
class RateLimitError(SparkApiError): ...
class InternalServerError(SparkApiError): ...
class ServiceUnavailableError(SparkApiError): ...
class GatewayTimeoutError(SparkApiError): ...
class UnsupportedMediaTypeError(SparkApiError): ...
class UnprocessableEntityError(SparkApiError): ...
class UnknownApiError(SparkApiError): ...
class OutcomeUnknownError(SparkError):
    @property
    def job_id(self) -> str: ...
class PollTimeoutError(RetryTimeoutError, OutcomeUnknownError): ...

class HttpResponse:
    status: int
    data: Any
    headers: Dict[str, str]
    @property
    def buffer(self) -> bytes: ...

class ExportedFile(HttpResponse):
    path: str
    size: int
    sha256: str
    verified: bool
    resumes: int
    def __fspath__(self) -> str: ...

class ImportResult(HttpResponse):
    job_id: str
    job_status: str
    services: List[Dict[str, Any]]
    versions: List[Dict[str, Any]]
    warnings: List[Dict[str, str]]
    partially_failed: bool

class MigrationResult:
    export_job: Dict[str, Any]
    files: List[ExportedFile]
    imported: List[ImportResult]
    error: Optional[SparkError]
    elapsed: float
    @property
    def ok(self) -> bool: ...

class _Exports:
    def initiate(self, *, folders: Optional[Sequence[str]] = ..., services: Optional[Sequence[str]] = ...,
                 version_ids: Optional[Sequence[str]] = ..., file_filter: Optional[FileFilter] = ...,
                 version_filter: Optional[VersionFilter] = ..., source_system: Optional[str] = ...,
                 correlation_id: Optional[str] = ...) -> Any: ...
    def get_status(self, *, job_id: Optional[str] = ..., url: Optional[str] = ..., max_retries: Optional[int] = ...,
                   retry_interval: Optional[float] = ...) -> Any: ...
    def download(self, urls: Union[str, Sequence[str]], *, directory: Optional[str] = ..., file_hash: Optional[str] = ...,
                 progress: Progress = ...) -> Any: ...
    def cancel(self, job_id: str) -> Any: ...
    def describe(self) -> Any: ...

class _Imports:
    def initiate(self, destination: Optional[Destination] = ..., *, file: Package, if_present: Optional[IfPresent] = ...,
                 source_system: Optional[str] = ..., correlation_id: Optional[str] = ...) -> Any: ...
    def get_status(self, *, job_id: Optional[str] = ..., url: Optional[str] = ..., max_retries: Optional[int] = ...,
                   retry_interval: Optional[float] = ...) -> Any: ...
    def describe(self) -> Any: ...

class ImpEx:
    exports: _Exports
    imports: _Imports
    def exp(self, *, folders: Optional[Sequence[str]] = ..., services: Optional[Sequence[str]] = ...,
            version_ids: Optional[Sequence[str]] = ..., file_filter: Optional[FileFilter] = ...,
            version_filter: Optional[VersionFilter] = ..., source_system: Optional[str] = ...,
            correlation_id: Optional[str] = ..., max_retries: Optional[int] = ..., retry_interval: Optional[float] = ...,
            directory: Union[None, str, os.PathLike] = ..., overwrite: bool = ..., progress: Progress = ...) -> List[ExportedFile]: ...
    export = exp
    def imp(self, destination: Optional[Destination] = ..., *, file: Package, if_present: Optional[IfPresent] = ...,
            source_system: Optional[str] = ..., correlation_id: Optional[str] = ..., max_retries: Optional[int] = ...,
            retry_interval: Optional[float] = ..., progress: Progress = ...) -> ImportResult: ...
    import_ = imp
    def migrate(self, to: Client, *, folders: Optional[Sequence[str]] = ..., services: Optional[Sequence[str]] = ...,
                version_ids: Optional[Sequence[str]] = ..., file_filter: Optional[FileFilter] = ...,
                version_filter: Optional[VersionFilter] = ..., source_system: Optional[str] = ...,
                destination: Optional[Destination] = ..., if_present: Optional[IfPresent] = ...,
                max_retries: Optional[int] = ..., retry_interval: Optional[float] = ..., directory: Optional[str] = ...,
                keep_files: bool = ..., progress: Progress = ...) -> MigrationResult: ...

class AsyncImpEx:
    exports: _Exports
    imports: _Imports
    async def exp(self, *, folders: Optional[Sequence[str]] = ..., services: Optional[Sequence[str]] = ...,
                  version_ids: Optional[Sequence[str]] = ..., file_filter: Optional[FileFilter] = ...,
                  version_filter: Optional[VersionFilter] = ..., source_system: Optional[str] = ...,
                  correlation_id: Optional[str] = ..., max_retries: Optional[int] = ...,
                  retry_interval: Optional[float] = ..., directory: Union[None, str, os.PathLike] = ...,
                  overwrite: bool = ..., progress: Progress = ...) -> List[ExportedFile]: ...
    export = exp
    async def imp(self, destination: Optional[Destination] = ..., *, file: Package, if_present: Optional[IfPresent] = ...,
                  source_system: Optional[str] = ..., correlation_id: Optional[str] = ...,
                  max_retries: Optional[int] = ..., retry_interval: Optional[float] = ...,
                  progress: Progress = ...) -> ImportResult: ...
    import_ = imp
    async def migrate(self, to: Client, *, folders: Optional[Sequence[str]] = ..., services: Optional[Sequence[str]] = ...,
                      version_ids: Optional[Sequence[str]] = ..., file_filter: Optional[FileFilter] = ...,
                      version_filter: Optional[VersionFilter] = ..., source_system: Optional[str] = ...,
                      destination: Optional[Destination] = ..., if_present: Optional[IfPresent] = ...,
                      max_retries: Optional[int] = ..., retry_interval: Optional[float] = ...,
                      directory: Optional[str] = ..., keep_files: bool = ..., progress: Progress = ...) -> MigrationResult: ...

class Client:
    config: Dict[str, Any]
    logger: Optional[logging.Logger]
    impex: ImpEx
    def __init__(self, *, base_url: Optional[str] = ..., env: Optional[str] = ..., tenant: Optional[str] = ...,
                 api_key: Optional[str] = ..., token: Optional[str] = ...,
                 oauth: Union[None, str, os.PathLike, Mapping[str, str]] = ..., timeout: float = ...,
                 max_retries: int = ..., retry_interval: float = ..., logger: Union[bool, logging.Logger, None] = ...,
                 **options: Any) -> None: ...
    @property
    def base_url(self) -> str: ...
    @property
    def tenant(self) -> str: ...
    def close(self) -> None: ...
    def __enter__(self) -> Client: ...
    def __exit__(self, *exc: Any) -> None: ...

class AsyncClient(Client):
    impex: AsyncImpEx  # type: ignore[assignment]
    async def __aenter__(self) -> AsyncClient: ...
    async def __aexit__(self, *exc: Any) -> None: ...

def get_logger(name: str = ...) -> logging.Logger: ...
def shutdown() -> None: ...

FleetEntry = Mapping[str, Any]  # name, source, target (clients), and migrate's arguments

def migrate_fleet(entries: Sequence[FleetEntry], *, concurrency: int = ..., coalesce: bool = ..., max_services: int = ...,
                  journal: Optional[str] = ..., progress: Progress = ...) -> List[MigrationResult]: ...
async def migrate_fleet_async(entries: Sequence[FleetEntry], *, concurrency: int = ..., coalesce: bool = ...,
                              max_services: int = ..., journal: Optional[str] = ...,
                              progress: Progress = ...) -> List[MigrationResult]: ...

def tqdm_progress(**options: Any) -> Callable[[Dict[str, Any]], None]: ...
