"""Client / AsyncClient and their `impex`: the official SDK's names and
arguments over the C++ engine. Every call runs on the engine's one I/O
thread; a sync call waits with the GIL released, an async one completes an
asyncio future from that thread. Progress callbacks run on the caller's
thread (sync) or event loop (async), never on the I/O thread."""

import asyncio
import atexit
import logging
import os
import tempfile
import threading
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Union

from . import _engine
from ._errors import SparkSdkError, error_from
from ._inputs import _destinations, _export_request, _Package, _poll
from ._results import ExportedFile, HttpResponse, ImportResult, MigrationResult, job_document
from ._waiting import _LIVE, _await, _wait

__all__ = ['Client', 'AsyncClient', 'ImpEx', 'AsyncImpEx', 'get_logger', 'shutdown']

_LOGGER_NAME = 'cspark_impex'
_runtime: Optional[Any] = None
_runtime_lock = threading.Lock()


def get_logger(name: str = _LOGGER_NAME) -> logging.Logger:
    """The package's logger (the SDK's `Spark.get_logger()`)."""
    logger = logging.getLogger(name)
    if not logger.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter('[%(name)s] %(levelname)s: %(message)s'))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    return logger


def _engine_runtime() -> Any:
    global _runtime
    with _runtime_lock:
        if _runtime is None:
            _runtime = _engine.Runtime()
            atexit.register(shutdown)
        return _runtime


def shutdown() -> None:
    """Stops the I/O thread (at exit, or by hand once every call is done)."""
    global _runtime
    with _runtime_lock:
        rt, _runtime = _runtime, None
    if rt is not None:
        rt.stop()


# ---------------------------------------------------------------- clients

class Client:
    """A client of one tenant, with the SDK's settings: `base_url` (or `env`
    and `tenant`), `api_key`, `token` (bearer) or `oauth` (a mapping with
    client_id and client_secret, or the path of a JSON file holding them);
    `timeout` in milliseconds (60000), `max_retries` (2) and `retry_interval`
    in seconds (1) for each request. CSPARK_* environment variables fill
    what is not given."""

    def __init__(self, *, base_url: Optional[str] = None, env: Optional[str] = None, tenant: Optional[str] = None,
                 api_key: Optional[str] = None, token: Optional[str] = None,
                 oauth: Union[None, str, Mapping[str, str]] = None, timeout: float = 60000, max_retries: int = 2,
                 retry_interval: float = 1, logger: Union[bool, logging.Logger, None] = True, **_ignored: Any):
        if isinstance(oauth, os.PathLike):
            oauth = os.fspath(oauth)
        if oauth is not None and not isinstance(oauth, (str, Mapping)):
            raise SparkSdkError('oauth: give a mapping with client_id and client_secret, or a JSON file path')
        self.config = {'base_url': base_url, 'env': env, 'tenant': tenant, 'api_key': api_key, 'token': token,
                       'oauth': dict(oauth) if isinstance(oauth, Mapping) else oauth, 'timeout': float(timeout) / 1000.0,
                       'max_retries': int(max_retries), 'retry_interval': float(retry_interval)}
        self.logger = logger if isinstance(logger, logging.Logger) else get_logger() if logger else None
        # The engine logs what the SDK does (jobs created, retries, unverified packages) from INFO up.
        self.config['log_level'] = logging.getLevelName(max(self.logger.getEffectiveLevel(), logging.INFO)) \
            if self.logger else ''
        try:
            self._handle = _engine.Client(_engine_runtime(), self.config)
        except _engine.EngineError as e:
            raise error_from(*e.args) from None
        self.impex = self._impex()
        _LIVE.add(self)

    def _impex(self) -> 'ImpEx':
        return ImpEx(self)

    @property
    def base_url(self) -> str:
        return self._handle.base_url

    @property
    def tenant(self) -> str:
        return self._handle.tenant

    def close(self) -> None:
        """Lets the client go (flows in flight finish first)."""
        self._handle = None

    def __enter__(self) -> 'Client':
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _engine(self) -> Any:
        if self._handle is None:
            raise SparkSdkError('the client is closed')
        return self._handle


class AsyncClient(Client):
    """Client whose impex verbs are coroutines (`await spark.impex.exp(...)`).
    A thousand awaits in asyncio.gather are a thousand flows on the engine's
    one thread."""

    def _impex(self) -> 'AsyncImpEx':
        return AsyncImpEx(self)

    async def __aenter__(self) -> 'AsyncClient':
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self.close()


class _Verbs:
    """What exports and imports share; each verb builds the engine's call
    and hands it to `_run` (sync: wait; async: a coroutine)."""

    _kind = ''

    def __init__(self, client: Client, run: Callable):
        self._client = client
        self._run = run

    def get_status(self, *, job_id: Optional[str] = None, url: Optional[str] = None, max_retries=None,
                   retry_interval=None):
        """The job's status once it ends (polled, as the SDK's get_status;
        a failed job raises SparkApiError, one still running when the checks
        run out PollTimeoutError)."""
        target = job_id or url
        if not target:
            raise SparkSdkError('either job_id or url must be provided')
        poll = _poll(max_retries, retry_interval)
        return self._run(self._client._engine().status(self._kind, target, poll), None, _job_response)

    def describe(self):
        """The tenant's jobs of this kind: in progress and recent."""
        return self._run(self._client._engine().describe(self._kind), None, lambda d: HttpResponse(d))


class _Exports(_Verbs):
    _kind = 'export'

    def initiate(self, *, folders=None, services=None, version_ids=None, file_filter=None, version_filter=None,
                 source_system=None, correlation_id=None):
        req = _export_request(folders, services, version_ids, file_filter, version_filter, source_system,
                              correlation_id, None, None)
        return self._run(self._client._engine().initiate_export(req), None, _job_response)

    def download(self, urls: Union[str, Sequence[str]], *, directory: Optional[str] = None,
                 file_hash: Optional[str] = None, progress=None):
        urls = [urls] if isinstance(urls, str) else list(urls)
        directory = directory or tempfile.mkdtemp(prefix='cspark-impex-')
        options = {'directory': directory, 'file_hash': file_hash, 'progress': progress is not None}
        ops = [self._client._engine().download(u, options) for u in urls if u]
        return self._run(ops, progress, lambda docs: [ExportedFile(d) for d in docs])

    def cancel(self, job_id: str):
        return self._run(self._client._engine().cancel_export(job_id), None, _job_response)


class _Imports(_Verbs):
    _kind = 'import'

    def initiate(self, destination=None, *, file, if_present=None, source_system=None, correlation_id=None):
        req = {'destination': _destinations(destination), 'if_present': if_present, 'source_system': source_system,
               'correlation_id': correlation_id}
        return _with_package(file, req, lambda r, done: self._run(self._client._engine().initiate_import(r), None,
                                                                   _job_response, done))


def _with_package(file: Any, req: Dict[str, Any], start: Callable) -> Any:
    """Starts an upload of `file` (every other input already checked); a
    spooled copy goes when the call ends, or now if it cannot start."""
    package = _Package(file)
    try:
        return start(dict(req, file=package.path), package.close)
    except BaseException:
        package.close()
        raise


def _job_response(doc: Dict[str, Any]) -> HttpResponse:
    return HttpResponse(job_document(doc))


def _exp_call(client: Client, folders, services, version_ids, file_filter, version_filter, source_system,
              correlation_id, max_retries, retry_interval, directory, overwrite, progress):
    req = _export_request(folders, services, version_ids, file_filter, version_filter, source_system, correlation_id,
                          max_retries, retry_interval)
    req['directory'] = os.fspath(directory) if directory else tempfile.mkdtemp(prefix='cspark-impex-')
    req['overwrite'] = bool(overwrite)
    req['progress'] = progress is not None
    return client._engine().exp(req)


def _exp_files(doc: Dict[str, Any]) -> List[ExportedFile]:
    return [ExportedFile(f) for f in doc.get('files', [])]


def _migration(doc: Dict[str, Any]) -> MigrationResult:
    err = error_from(doc['error'], doc['message'], doc['diagnostics']) if doc.get('error') else None
    result = MigrationResult(doc, err)
    if err is not None:
        err.result = result  # type: ignore[attr-defined]
        raise err
    return result


def _sync_run(ops: Any, progress: Optional[Callable], shape: Callable, cleanup: Optional[Callable] = None) -> Any:
    try:
        if isinstance(ops, list):
            return shape([_wait(op, progress) for op in ops])
        return shape(_wait(ops, progress))
    finally:
        if cleanup:
            cleanup()


async def _async_run(ops: Any, progress: Optional[Callable], shape: Callable, cleanup: Optional[Callable] = None) -> Any:
    try:
        if isinstance(ops, list):
            return shape(list(await asyncio.gather(*(_await(op, progress) for op in ops))))
        return shape(await _await(ops, progress))
    finally:
        if cleanup:
            cleanup()


class ImpEx:
    """`spark.impex`: exp / imp (with the SDK's aliases export / import_),
    exports and imports, and migrate."""

    def __init__(self, client: Client, run: Callable = _sync_run):
        self._client = client
        self._run = run
        self.exports = _Exports(client, run)
        self.imports = _Imports(client, run)

    def exp(self, *, folders=None, services=None, version_ids=None, file_filter=None, version_filter=None,
            source_system=None, correlation_id=None, max_retries=None, retry_interval=None,
            directory: Union[None, str, os.PathLike] = None, overwrite: bool = False, progress=None):
        """Export Spark entities (versions, services or folders): initiates
        an export job, polls its status until it completes, and downloads
        and verifies every file.

        Args:
            folders: 1+ folder name(s).
            services: 1+ service URI(s): `{folder}/{service}[{version}]`,
                `service/{service_id}` or `version/{version_id}`.
            version_ids: 1+ version UUID(s) of the desired service.
            file_filter: 'migrate' (data migration, the default) or
                'onpremises' (hybrid deployments).
            version_filter: 'latest' (the default) or 'all'.
            source_system: source system name (e.g. your CI's).
            correlation_id: a correlation id for the export (tagging).
            max_retries: status checks at most (default: until the deadline).
            retry_interval: seconds between status checks.
            directory: where packages are written (default: a new
                temporary directory).
            overwrite: replace a file of the same name in `directory`.
            progress: a callable receiving each progress event (a dict).

        Returns:
            The exported files: ExportedFile objects (`path`, `size`,
            `sha256`, `verified`, and `buffer`, the bytes read on demand).
        """
        op = _exp_call(self._client, folders, services, version_ids, file_filter, version_filter, source_system,
                       correlation_id, max_retries, retry_interval, directory, overwrite, progress)
        return self._run(op, progress, _exp_files)

    export = exp

    def imp(self, destination=None, *, file, if_present=None, source_system=None, correlation_id=None,
            max_retries=None, retry_interval=None, progress=None):
        """Import exported Spark entities into this tenant: uploads the
        package, polls the import job until it completes. Only entities
        exported for data migration ('migrate') can be imported.

        Args:
            destination: the destination service URI(s): a URI or a list of
                URIs (the same as the source's), or a mapping
                `{'source', 'target', 'upgrade'}` or a list of them (`target`
                defaults to `source`; `upgrade`: 'major', 'minor' (default)
                or 'patch'). The destination folder must exist.
            file: the ZIP: a path, a binary file object or bytes.
            if_present: 'abort', 'replace' or 'add_version' (the default).
            source_system: source system name.
            correlation_id: a correlation id for the import (by default a
                fresh one, with which a lost upload is found, never resent).
            max_retries: status checks at most (default: until the deadline).
            retry_interval: seconds between status checks.
            progress: a callable receiving each progress event (a dict).

        Returns:
            ImportResult: `.data` is the import job's status document (the
            import summary), `.services` / `.versions` each entry's outcome.
        """
        req = {'destination': _destinations(destination), 'if_present': if_present, 'source_system': source_system,
               'correlation_id': correlation_id, 'progress': progress is not None}
        req.update(_poll(max_retries, retry_interval))
        return _with_package(file, req, lambda r, done: self._run(self._client._engine().imp(r), progress,
                                                                   ImportResult, done))

    import_ = imp

    def migrate(self, to: Client, *, folders=None, services=None, version_ids=None, file_filter=None,
                version_filter=None, source_system=None, destination=None, if_present=None, max_retries=None,
                retry_interval=None, directory=None, keep_files: bool = False, progress=None):
        """Exports here and imports into `to`: the package is streamed to
        disk and uploaded from there, never held in memory; the import is
        never sent twice. Raises the first failure (its `result` attribute
        holds what was done)."""
        exports = _export_request(folders, services, version_ids, file_filter, version_filter, source_system, None,
                                  max_retries, retry_interval)
        exports['directory'] = os.fspath(directory) if directory else tempfile.mkdtemp(prefix='cspark-impex-')
        req = {'exports': exports, 'destination': _destinations(destination), 'if_present': if_present,
               'keep_files': bool(keep_files), 'progress': progress is not None}
        return self._run(self._client._engine().migrate(to._engine(), req), progress, _migration)


class AsyncImpEx(ImpEx):
    """`spark.impex` of an AsyncClient: the same verbs as coroutines."""

    def __init__(self, client: Client):
        super().__init__(client, _async_run)
