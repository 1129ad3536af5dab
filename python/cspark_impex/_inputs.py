"""The inputs of the verbs, checked and normalised before anything is sent:
lists, destinations in the SDK's four forms, the package to upload, the
status checks' settings, an export's request."""

import os
import shutil
import tempfile
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Union

from ._errors import SparkSdkError

def _listed(value: Union[None, str, Sequence[str]]) -> Optional[List[str]]:
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


def _destinations(destination: Any) -> List[Dict[str, str]]:
    """Every form the SDK takes (str, list of str, mapping, list of
    mappings) as a list of {source, target, upgrade}."""
    if destination is None:
        return []
    items = destination if isinstance(destination, (list, tuple)) else [destination]
    out = []
    for item in items:
        if isinstance(item, str):
            mapping = {'source': item}
        elif isinstance(item, Mapping):
            mapping = {k: v for k, v in item.items() if v is not None}
        else:
            raise SparkSdkError(f'destination: {item!r} is neither a service URI nor a mapping')
        source = mapping.get('source')
        if not isinstance(source, str) or not source:
            raise SparkSdkError(f'destination: {item!r} has no source service URI')
        upgrade = mapping.get('upgrade', 'minor')
        if upgrade not in ('major', 'minor', 'patch'):
            raise SparkSdkError(f"destination: upgrade {upgrade!r} is not one of 'major', 'minor', 'patch'")
        out.append({'source': source, 'target': mapping.get('target') or '', 'upgrade': upgrade})
    return out


class _Package:
    """The file to upload as a path: a path as given, a binary file object
    streamed from its path when it has one (else spooled to a temporary
    file), or bytes (spooled). The spool goes when the call ends."""

    def __init__(self, file: Any):
        self.spool: Optional[str] = None
        if isinstance(file, (str, os.PathLike)):
            self.path = os.fspath(file)
            if not os.path.isfile(self.path):
                raise SparkSdkError(f'file: {self.path!r} is not a file')
            return
        if isinstance(file, (bytes, bytearray, memoryview)):
            self.path = self._spooled(lambda out: out.write(bytes(file)))
            return
        if hasattr(file, 'read'):
            name = getattr(file, 'name', None)
            mode = getattr(file, 'mode', 'rb')
            at_start = not hasattr(file, 'tell') or file.tell() == 0
            if isinstance(name, str) and os.path.isfile(name) and 'b' in mode and at_start:
                self.path = name
                return
            self.path = self._spooled(lambda out: shutil.copyfileobj(file, out, 1 << 20))
            return
        raise SparkSdkError('file: give a path, a binary file object or bytes')

    def _spooled(self, write: Callable[[Any], Any]) -> str:
        fd, path = tempfile.mkstemp(prefix='cspark-impex-upload-', suffix='.zip')
        with os.fdopen(fd, 'wb') as out:
            write(out)
        self.spool = path
        return path

    def close(self) -> None:
        if self.spool:
            try:
                os.remove(self.spool)
            except OSError:
                pass
            self.spool = None


def _poll(max_retries: Optional[int], retry_interval: Optional[float]) -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    if max_retries is not None:
        if int(max_retries) < 1:
            raise SparkSdkError(f'max_retries: {max_retries!r} must be at least 1')
        out['max_retries'] = int(max_retries)
    if retry_interval is not None:
        if float(retry_interval) <= 0:
            raise SparkSdkError(f'retry_interval: {retry_interval!r} must be more than 0 seconds')
        out['retry_interval'] = float(retry_interval)
    return out


def _export_request(folders, services, version_ids, file_filter, version_filter, source_system, correlation_id,
                    max_retries, retry_interval) -> Dict[str, Any]:
    req = {'folders': _listed(folders), 'services': _listed(services), 'version_ids': _listed(version_ids),
           'file_filter': file_filter, 'version_filter': version_filter, 'source_system': source_system,
           'correlation_id': correlation_id}
    if not (req['folders'] or req['services'] or req['version_ids']):
        raise SparkSdkError('at least one of folders, services, or version_ids must be provided')
    req.update(_poll(max_retries, retry_interval))
    return req


