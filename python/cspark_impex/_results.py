"""Results shaped as the official SDK's responses (`.data`, `.buffer`,
`.status`), with what the engine knows besides (paths, hashes, per-service
outcomes, warnings)."""

import json
from typing import Any, Dict, List, Optional

__all__ = ['HttpResponse', 'ExportedFile', 'ImportResult', 'MigrationResult', 'job_document']


def job_document(job: Dict[str, Any]) -> Dict[str, Any]:
    """A job's document as the server sent it (the engine hands it over as
    text), else what is known of the job."""
    raw = job.get('raw')
    if isinstance(raw, str):
        return json.loads(raw)
    if isinstance(raw, dict) and raw:
        return raw
    return {k: v for k, v in job.items() if k != 'raw'}


class HttpResponse:
    """A response as the SDK returns it: `status`, `data` (the JSON document)
    and `buffer` (its bytes, for a downloaded file)."""

    def __init__(self, data: Any = None, status: int = 200, headers: Optional[Dict[str, str]] = None):
        self.status = status
        self.data = data
        self.headers = headers or {}

    @property
    def buffer(self) -> bytes:
        import json
        return json.dumps(self.data).encode()

    def __repr__(self) -> str:
        return f'{type(self).__name__}(status={self.status})'


class ExportedFile(HttpResponse):
    """A package written to `path` (streamed, never held in memory): `size`
    bytes, `sha256`, `verified` when the server's file_hash matched.
    `buffer` reads the file when asked (as the SDK's response held it)."""

    def __init__(self, doc: Dict[str, Any]):
        super().__init__(data=None, status=200, headers={'content-type': 'application/zip'})
        self.path: str = doc['path']
        self.size: int = int(doc['size'])
        self.sha256: str = doc['sha256']
        self.verified: bool = bool(doc['verified'])
        self.resumes: int = int(doc.get('resumes', 0))

    @property
    def buffer(self) -> bytes:
        with open(self.path, 'rb') as f:
            return f.read()

    def __fspath__(self) -> str:
        return self.path

    def __repr__(self) -> str:
        return f'ExportedFile(path={self.path!r}, size={self.size}, verified={self.verified})'


class ImportResult(HttpResponse):
    """The import job's status document as the server sent it (`data`, as
    the SDK returns it), with `services` and `versions` outcomes (`ok`,
    `reason`), `warnings`, `partially_failed` and `job_id`."""

    def __init__(self, doc: Dict[str, Any]):
        job = doc['job']
        super().__init__(data=None, status=200)
        self._raw = job.get('raw')
        self._data: Optional[Dict[str, Any]] = None
        self.job_id: str = job['id']
        self.job_status: str = job['status']
        self.services: List[Dict[str, Any]] = doc.get('services', [])
        self.versions: List[Dict[str, Any]] = doc.get('versions', [])
        self.warnings: List[Dict[str, str]] = job.get('warnings', [])
        self.partially_failed: bool = bool(doc.get('partially_failed'))

    @property  # type: ignore[override]
    def data(self) -> Dict[str, Any]:
        """The import job's status document (read when first asked)."""
        if self._data is None:
            self._data = job_document({'raw': self._raw, 'id': self.job_id, 'status': self.job_status})
            self._raw = None
        return self._data

    @data.setter
    def data(self, value: Any) -> None:
        self._data = value


class MigrationResult:
    """One migration: `exported` (the export job's document and files),
    `imported` (an ImportResult per package), `error` (None, or the
    SparkError of its first failure), `elapsed` seconds."""

    def __init__(self, doc: Dict[str, Any], error: Optional[Exception]):
        exported = doc['exported']
        self._export_src: Optional[Dict[str, Any]] = exported['job']
        self._export_doc: Optional[Dict[str, Any]] = None
        self.files = [ExportedFile(f) for f in exported.get('files', [])]
        self.imported = [ImportResult(i) for i in doc.get('imported', [])]
        self.error = error
        self.elapsed: float = doc.get('elapsed_ms', 0) / 1000.0

    @property
    def export_job(self) -> Dict[str, Any]:
        """The export job's status document (read when first asked)."""
        if self._export_doc is None:
            self._export_doc = job_document(self._export_src or {})
            self._export_src = None
        return self._export_doc

    @property
    def ok(self) -> bool:
        return self.error is None

    def __repr__(self) -> str:
        state = 'ok' if self.ok else f'error={self.error!r}'
        return f'MigrationResult({state}, files={len(self.files)}, imports={len(self.imported)})'
