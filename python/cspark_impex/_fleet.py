"""migrate_fleet: many migrations at once on the engine (Spark's one job
per tenant respected, a free worker never waiting behind a busy tenant,
coalescing), with a journal a rerun resumes from."""

import json
import os
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

from . import _engine
from ._client import Client, _engine_runtime
from ._inputs import _destinations, _export_request
from ._waiting import _await, _wait
from ._errors import SparkError, SparkSdkError, error_from
from ._results import MigrationResult

__all__ = ['migrate_fleet', 'migrate_fleet_async']

_EXPORT_KEYS = ('folders', 'services', 'version_ids', 'file_filter', 'version_filter', 'source_system',
                'max_retries', 'retry_interval')
_KNOWN = set(_EXPORT_KEYS) | {'name', 'source', 'target', 'destination', 'if_present', 'directory', 'keep_files'}


def _resumes(journal: Optional[str]) -> Dict[str, Dict[str, Any]]:
    """Each entry's latest checkpoint in the journal (a torn last line is skipped)."""
    out: Dict[str, Dict[str, Any]] = {}
    if not journal or not os.path.isfile(journal):  # none yet (or a device: nothing to resume from)
        return out
    with open(journal, encoding='utf-8') as f:
        for line in f:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and 'entry' in record and isinstance(record.get('after'), dict):
                out[str(record['entry'])] = record['after']
    return out


def _entries(entries: Sequence[Mapping[str, Any]], journal: Optional[str]) -> List[Dict[str, Any]]:
    resumes = _resumes(journal)
    names = set()
    out = []
    for i, e in enumerate(entries):
        unknown = set(e) - _KNOWN
        if unknown:
            raise SparkSdkError(f'entry {i}: unknown field(s) {sorted(unknown)}')
        src, dst = e.get('source'), e.get('target')
        if not isinstance(src, Client) or not isinstance(dst, Client):
            raise SparkSdkError(f'entry {i}: source and target must be clients')
        name = str(e.get('name', i))
        if name in names:
            raise SparkSdkError(f'entry {i}: the name {name!r} is taken (a journal tells entries apart by name)')
        names.add(name)
        exports = _export_request(*(e.get(k) for k in _EXPORT_KEYS[:6]), None, e.get('max_retries'),
                                  e.get('retry_interval'))
        exports['directory'] = os.fspath(e.get('directory') or '.')
        # A journaled fleet keeps its packages: a rerun imports the one it has.
        request = {'exports': exports, 'destination': _destinations(e.get('destination')),
                   'if_present': e.get('if_present'), 'keep_files': bool(e.get('keep_files', journal is not None))}
        out.append({'name': name, 'source': src._engine(), 'target': dst._engine(), 'request': request,
                    'resume': resumes.get(name)})
    return out


def _results(op: Any) -> List[MigrationResult]:
    """One result per entry, each parsed from its own text (the texts are
    dropped as they are read: a thousand results never exist twice)."""
    texts = op.take_results()
    out = []
    for i, text in enumerate(texts):
        texts[i] = None
        d = json.loads(text)
        out.append(MigrationResult(d, error_from(d['error'], d['message'], d['diagnostics']) if d.get('error') else None))
    return out


def _start(entries, concurrency, coalesce, max_services, journal, progress):
    prepared = _entries(entries, journal)
    options = {'concurrency': int(concurrency), 'coalesce': bool(coalesce), 'max_services': int(max_services),
               'progress': progress is not None}
    return _engine.migrate_fleet(_engine_runtime(), prepared, options, os.fspath(journal) if journal else '')


def migrate_fleet(entries: Sequence[Mapping[str, Any]], *, concurrency: int = 64, coalesce: bool = False,
                  max_services: int = 100, journal: Optional[str] = None,
                  progress: Optional[Callable[[Dict[str, Any]], Any]] = None) -> List[MigrationResult]:
    """Migrates every entry ({'name', 'source': Client, 'target': Client,
    and migrate's arguments: services, folders, destination, ...}); one
    result per entry, in order (`error` set on those that failed: one
    failure never stops the others). With `journal` (a file path), each
    step's checkpoint is appended and fsynced before the step goes on; a
    rerun with the same journal resumes each entry where it stood (jobs by
    id, lost POSTs by correlation id: never an import twice). If the
    journal could not be written, SparkError (file_error) is raised once the
    fleet ends, with the results in its `results`."""
    op = _start(entries, concurrency, coalesce, max_services, journal, progress)
    try:
        _wait(op, progress)
    except SparkError as err:
        err.results = _results(op)  # type: ignore[attr-defined]
        raise
    return _results(op)


async def migrate_fleet_async(entries: Sequence[Mapping[str, Any]], *, concurrency: int = 64, coalesce: bool = False,
                              max_services: int = 100, journal: Optional[str] = None,
                              progress: Optional[Callable[[Dict[str, Any]], Any]] = None) -> List[MigrationResult]:
    """migrate_fleet as a coroutine (cancelling it cancels every flow)."""
    op = _start(entries, concurrency, coalesce, max_services, journal, progress)
    try:
        await _await(op, progress)
    except SparkError as err:
        err.results = _results(op)  # type: ignore[attr-defined]
        raise
    return _results(op)
