"""cspark_impex against cspark-emulator: the SDK documentation's examples as
written (base URL and credentials aside), every verb, each destination form,
errors by class, asyncio at scale, cancellation, progress, faults."""

import asyncio
import io
import os
import threading
import time

import pytest

import cspark_impex as cspark


def clients(emu, cls=cspark.Client):
    src = cls(base_url=emu.base('acme'), api_key='key-acme')
    dst = cls(base_url=emu.base('prod'), api_key='key-prod')
    return src, dst


# ---------------------------------------------------------------- the documentation's examples

def test_the_export_example_as_documented(emulator, tmp_path):
    spark, _ = clients(emulator)
    files = spark.impex.exp(
        services=['my-folder/my-service[0.4.2]', 'my-other-folder/my-service-2'],
        file_filter='onpremises',
        max_retries=5,
        retry_interval=3,
    )
    assert len(files) == 1
    f = files[0]
    assert f.verified and f.size > 0 and len(f.sha256) == 64
    assert f.buffer[:2] == b'PK' and len(f.buffer) == f.size == os.path.getsize(f.path)
    job = emulator.jobs('export', 'acme')[0]
    assert job['status'] == 'closed'


def test_the_import_example_as_documented(emulator, tmp_path):
    src, spark = clients(emulator)
    exported = src.impex.exp(services=['my-folder/my-service'], directory=tmp_path)
    os.rename(exported[0].path, tmp_path / 'exported.zip')
    os.chdir(tmp_path)
    result = spark.impex.imp(
        destination={'source': 'my-folder/my-service', 'target': 'this-folder/my-service', 'upgrade': 'patch'},
        file=open('exported.zip', 'rb'),
        max_retries=7,
        retry_interval=3,
    )
    assert result.data['status'] == 'closed'
    assert result.data['outputs']['services'][0]['service_uri_destination'] == 'this-folder/my-service'
    assert result.services[0]['ok'] and result.services[0]['destination'] == 'this-folder/my-service'
    assert result.job_id == emulator.jobs('import', 'prod')[0]['id']


def test_the_sdk_promotion_example_runs_with_its_import_line_changed(emulator):
    """The calls of the SDK's examples/usecases/service_promotion, made the
    same way: Client(**settings, token=...), impex.export, import_ with a
    BytesIO of the buffer, imported.data, get_logger, __title__."""
    Spark = cspark
    creds = emulator.credentials
    from_settings = {'base_url': emulator.base('acme'), 'timeout': 90000, 'max_retries': 20, 'retry_interval': 3}
    to_settings = {'base_url': emulator.base('prod'), 'timeout': 90000, 'max_retries': 40, 'retry_interval': 3}
    logger = Spark.get_logger()
    spark = Spark.Client(**from_settings, token=creds['acme']['bearer_token'])
    downloadables = spark.impex.export(services=['my-folder/my-service'], source_system=Spark.__title__)
    assert len(downloadables) == 1
    logger.info(f'{len(downloadables)} service(s) exported')
    oauth = {'client_id': creds['prod']['client_id'], 'client_secret': creds['prod']['client_secret']}
    spark = Spark.Client(**to_settings, oauth=oauth)
    destination = {'source': 'my-folder/my-service', 'target': 'this-folder/my-service'}
    imported = spark.impex.import_(destination, file=io.BytesIO(downloadables[0].buffer), source_system=Spark.__title__)
    outputs = imported.data.get('outputs', {}) if isinstance(imported.data, dict) else {}
    assert len(outputs['services']) == 1
    assert emulator.jobs('import', 'prod')[0]['source_system'] == 'cspark-impex'
    try:
        Spark.Client(**to_settings, oauth={'client_id': 'nobody', 'client_secret': 'wrong'}).impex.import_(
            destination, file=io.BytesIO(downloadables[0].buffer))
        assert False, 'refused credentials must raise'
    except Spark.SparkError as err:
        assert err.message and err.cause and err.details


# ---------------------------------------------------------------- every verb

@pytest.mark.parametrize('destination, where', [
    ('my-folder/my-service', 'my-folder/my-service'),
    (['my-folder/my-service'], 'my-folder/my-service'),
    ({'source': 'my-folder/my-service', 'target': 'this-folder/copy', 'upgrade': 'major'}, 'this-folder/copy'),
    ([{'source': 'my-folder/my-service', 'target': 'this-folder/copy2'}], 'this-folder/copy2'),
])
def test_each_destination_form(emulator, tmp_path, destination, where):
    src, dst = clients(emulator)
    files = src.impex.exp(services=['my-folder/my-service'], directory=tmp_path)
    result = dst.impex.imp(destination, file=files[0].path)
    assert [s['destination'] for s in result.services] == [where]


def test_file_as_bytes_and_as_a_file_object_without_a_path(emulator, tmp_path):
    src, dst = clients(emulator)
    files = src.impex.exp(services=['my-folder/my-service'], directory=tmp_path)
    assert dst.impex.imp('my-folder/my-service', file=files[0].buffer).job_status == 'closed'
    assert dst.impex.imp('my-folder/my-service', file=io.BytesIO(files[0].buffer)).job_status == 'closed'
    assert not [p for p in os.listdir('/tmp') if p.startswith('cspark-impex-upload-')]  # spools removed


def test_exports_and_imports_step_by_step(emulator, tmp_path):
    src, dst = clients(emulator)
    job = src.impex.exports.initiate(services=['my-folder/my-service'], correlation_id='my-tag')
    job_id = job.data['id']
    status = src.impex.exports.get_status(job_id=job_id, max_retries=5, retry_interval=0.1)
    assert status.data['status'] == 'closed'
    links = [f['file'] for f in status.data['outputs']['files']]
    files = src.impex.exports.download(links, directory=str(tmp_path))
    assert files[0].size > 0 and os.path.dirname(files[0].path) == str(tmp_path)
    described = src.impex.exports.describe()
    assert any(j['id'] == job_id for j in described.data.get('recent_exports', []) + described.data.get('in_progress_exports', []))
    imp = dst.impex.imports.initiate('my-folder/my-service', file=files[0].path)
    done = dst.impex.imports.get_status(job_id=imp.data['id'], max_retries=5, retry_interval=0.1)
    assert done.data['status'] == 'closed'
    assert dst.impex.imports.describe().status == 200


def test_migrate_another_tenant(emulator, tmp_path):
    src, dst = clients(emulator)
    result = src.impex.migrate(dst, services=['my-folder/my-service'],
                               destination={'source': 'my-folder/my-service', 'target': 'this-folder/moved'})
    assert result.ok and result.imported[0].services[0]['destination'] == 'this-folder/moved'
    assert len(emulator.jobs('import', 'prod')) == 1


# ---------------------------------------------------------------- errors

def test_errors_map_to_the_sdk_classes(emulator, tmp_path):
    with pytest.raises(cspark.UnauthorizedError) as e:
        cspark.Client(base_url=emulator.base('acme'), api_key='wrong').impex.exp(services=['my-folder/my-service'])
    assert e.value.status == 401 and e.value.request_id and e.value.code == 'unauthorized'
    src, dst = clients(emulator)
    with pytest.raises(cspark.SparkApiError) as e:
        src.impex.exp(services=['my-folder/no-such-service'])
    assert e.value.code in ('not_found', 'job_failed')
    with pytest.raises(cspark.SparkSdkError):
        src.impex.exp()  # nothing to export: refused before sending
    with pytest.raises(cspark.SparkSdkError):
        dst.impex.imp({'target': 'x/y'}, file=b'PK')  # a mapping without its source
    assert not [p for p in os.listdir('/tmp') if p.startswith('cspark-impex-upload-')]  # nothing spooled stays
    with pytest.raises(cspark.SparkSdkError):
        dst.impex.imp('my-folder/my-service', file=str(tmp_path / 'missing.zip'))
    with pytest.raises(cspark.SparkSdkError):
        cspark.Client(base_url='ftp://example.com/acme', api_key='k')
    assert not emulator.jobs('import')


def test_an_error_inside_a_200_is_a_failed_job(emulator, tmp_path):
    emulator.faults({'route': 'export.status', 'kind': 'error_in_200', 'code': 'INTERNAL_SERVER_ERROR', 'message': 'boom'})
    src, _ = clients(emulator)
    with pytest.raises(cspark.SparkApiError) as e:
        src.impex.exp(services=['my-folder/my-service'], directory=tmp_path / 'out')
    assert e.value.code == 'job_failed'
    assert not os.listdir(tmp_path / 'out')  # nothing partial


@pytest.mark.parametrize('rule, outcome', [
    ({'route': 'export.status', 'kind': 'status', 'status': 503, 'times': 2}, None),
    ({'route': 'download', 'kind': 'reset_mid_body', 'after_bytes': 1000, 'times': 1}, None),
    ({'route': 'import.create', 'kind': 'reset', 'times': 1}, None),
    ({'route': 'export.create', 'kind': 'job_fail'}, 'job_failed'),
    ({'route': 'import.create', 'kind': 'service_failed'}, 'import_partially_failed'),
])
def test_faults_end_as_in_the_cpp_fault_matrix(emulator, tmp_path, rule, outcome):
    emulator.faults(rule)
    src, dst = clients(emulator)
    try:
        result = src.impex.migrate(dst, services=['my-folder/my-service'], directory=str(tmp_path))
        code = None if result.ok else result.error.code
    except cspark.SparkError as e:
        code = e.code
    assert code == outcome
    assert len(emulator.jobs('import', 'prod')) <= 1  # never imported twice


# ---------------------------------------------------------------- asyncio

def test_asyncio_gather_of_200_migrations(emulator, tmp_path):
    async def main():
        src, dst = clients(emulator, cspark.AsyncClient)
        return await asyncio.gather(*(
            src.impex.migrate(dst, services=['my-folder/my-service'], directory=str(tmp_path),
                              destination={'source': 'my-folder/my-service', 'target': f'this-folder/s{i}'})
            for i in range(200)))
    threads_before = threading.active_count()
    results = asyncio.run(main())
    assert all(r.ok for r in results)
    assert len(emulator.jobs('import', 'prod')) == 200
    assert threading.active_count() == threads_before  # flows are not Python threads


def test_cancelling_an_async_export_cancels_its_job_on_the_server(slow_emulator, tmp_path):
    async def main():
        src = cspark.AsyncClient(base_url=slow_emulator.base('acme'), api_key='key-acme')
        task = asyncio.ensure_future(src.impex.exp(services=['my-folder/my-service'], directory=str(tmp_path / 'out')))
        for _ in range(200):
            await asyncio.sleep(0.01)
            if slow_emulator.jobs('export'):
                break
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    asyncio.run(main())
    for _ in range(100):
        if slow_emulator.jobs('export')[0]['status'] == 'cancelled':
            break
        time.sleep(0.02)
    assert slow_emulator.jobs('export')[0]['status'] == 'cancelled'
    assert not os.listdir(tmp_path / 'out')


def test_progress_runs_on_the_callers_thread_and_loop(emulator, tmp_path):
    seen = []
    src, _ = clients(emulator)
    src.impex.exp(services=['my-folder/my-service'], directory=tmp_path,
                  progress=lambda e: seen.append((e['what'], threading.get_ident())))
    assert ('job_created', threading.get_ident()) in seen
    assert all(t == threading.get_ident() for _, t in seen)

    async def main():
        a, _ = clients(emulator, cspark.AsyncClient)
        got = []
        await a.impex.exp(services=['my-folder/my-service'], directory=tmp_path, overwrite=True,
                          progress=lambda e: got.append(threading.get_ident()))
        return got
    assert set(asyncio.run(main())) == {threading.get_ident()}


# ---------------------------------------------------------------- interrupts and leftovers

def _child(code, env_extra=None):
    import subprocess
    import sys
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    env.update(env_extra or {})
    # A job started in the background by a non-interactive shell (CI) runs
    # with SIGINT ignored, and a child inherits that: Python then leaves Ctrl-C
    # ignored. The child starts with the default, as in a terminal.
    def interactive():
        import signal
        signal.signal(signal.SIGINT, signal.SIG_DFL)
    return subprocess.Popen([sys.executable, '-c', code], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, preexec_fn=interactive)


def test_ctrl_c_during_a_sync_export_cancels_it_and_leaves_nothing(slow_emulator, tmp_path):
    import signal
    out = tmp_path / 'out'
    # The child says when its export job exists, from its progress callback:
    # the call is then waiting, where Ctrl-C lands for a user.
    code = f'''
import faulthandler, sys
faulthandler.dump_traceback_later(20, exit=True)  # a hang prints every thread's stack, then ends
import cspark_impex as cspark
spark = cspark.Client(base_url={slow_emulator.base('acme')!r}, api_key='key-acme', logger=False)
def seen(event):
    if event['what'] == 'job_created':
        print('created', flush=True)
try:
    spark.impex.exp(services=['my-folder/my-service'], directory={str(out)!r}, progress=seen)
except KeyboardInterrupt:
    print('interrupted', flush=True)
'''
    child = _child(code)
    first = child.stdout.readline()
    assert first.strip() == 'created', first
    child.send_signal(signal.SIGINT)
    output, _ = child.communicate(timeout=30)
    assert 'interrupted' in output, (child.returncode, output)
    for _ in range(100):
        if slow_emulator.jobs('export')[0]['status'] == 'cancelled':
            break
        time.sleep(0.02)
    assert slow_emulator.jobs('export')[0]['status'] == 'cancelled'
    assert not out.exists() or not os.listdir(out)


def test_no_thread_or_descriptor_is_left_once_clients_close(emulator, tmp_path):
    code = f'''
import os, gc
import cspark_impex as cspark
def counts():
    return len(os.listdir('/proc/self/task')), len(os.listdir('/proc/self/fd'))
before = counts()
spark = cspark.Client(base_url={emulator.base('acme')!r}, api_key='key-acme')
spark.impex.exp(services=['my-folder/my-service'], directory={str(tmp_path / 'out')!r})
during = counts()
spark.close()
del spark
gc.collect()
cspark.shutdown()
print(before, during, counts())
'''
    child = _child(code)
    output, _ = child.communicate(timeout=60)
    before, during, after = (eval(x) for x in output.strip().splitlines()[-1].replace(') (', ')|(').split('|'))
    assert during[0] == before[0] + 1  # one I/O thread for every client
    assert after == before, output


# ---------------------------------------------------------------- fleets

def test_migrate_fleet_with_a_journal_a_rerun_resumes_and_imports_nothing_twice(emulator, tmp_path):
    src, dst = clients(emulator)
    journal = str(tmp_path / 'fleet.jsonl')
    entries = [{'name': f'm{i}', 'source': src, 'target': dst, 'services': ['my-folder/my-service'],
                'destination': {'source': 'my-folder/my-service', 'target': f'this-folder/f{i}'},
                'directory': str(tmp_path)} for i in range(5)]
    events = []
    results = cspark.migrate_fleet(entries, concurrency=4, coalesce=True, journal=journal, progress=events.append)
    assert [r.ok for r in results] == [True] * 5
    assert [r.imported[0].services[0]['destination'] for r in results] == [f'this-folder/f{i}' for i in range(5)]
    assert len(emulator.jobs('export', 'acme')) == 1 and len(emulator.jobs('import', 'prod')) == 1  # coalesced
    assert any(e['what'] == 'job_created' for e in events)
    with open(journal) as f:
        lines = [line for line in f if line.strip()]
    assert any('"import_job":"' in line and '"import_job":""' not in line for line in lines)
    again = cspark.migrate_fleet(entries, concurrency=4, coalesce=True, journal=journal)
    assert [r.ok for r in again] == [True] * 5
    assert len(emulator.jobs('import', 'prod')) == 1  # resumed by job id: nothing imported again
    assert len(emulator.jobs('export', 'acme')) == 1


def test_migrate_fleet_async_and_a_bad_entry_fails_alone(emulator, tmp_path):
    async def main():
        src, dst = clients(emulator, cspark.AsyncClient)
        entries = [{'source': src, 'target': dst, 'services': [s], 'directory': str(tmp_path)}
                   for s in ('my-folder/my-service', 'my-folder/nope', 'my-folder/my-service-2')]
        return await cspark.migrate_fleet_async(entries, concurrency=2)
    results = asyncio.run(main())
    assert [r.ok for r in results] == [True, False, True]
    assert isinstance(results[1].error, cspark.SparkError)
    with pytest.raises(cspark.SparkSdkError):
        cspark.migrate_fleet([{'source': 'not a client', 'target': None, 'services': ['a/b']}])


def test_a_job_still_running_when_the_checks_run_out_is_a_poll_timeout_naming_it(slow_emulator, tmp_path):
    src = cspark.Client(base_url=slow_emulator.base('acme'), api_key='key-acme')
    with pytest.raises(cspark.RetryTimeoutError) as e:
        src.impex.exp(services=['my-folder/my-service'], max_retries=2, retry_interval=0.05, directory=tmp_path / 'o')
    assert isinstance(e.value, cspark.OutcomeUnknownError) and e.value.code == 'poll_timeout'
    assert e.value.job_id == slow_emulator.jobs('export')[0]['id']
    assert str(e.value).startswith('PollTimeoutError: ')


def test_what_the_engine_logs_reaches_the_clients_logger_on_the_callers_thread(emulator, tmp_path):
    import logging
    records = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append((record.levelno, record.getMessage(), threading.get_ident()))

    log = logging.getLogger('test-cspark-impex')
    log.setLevel(logging.INFO)
    log.addHandler(Keep())
    emulator.faults({'route': 'export.create', 'kind': 'job_no_hash'})
    spark = cspark.Client(base_url=emulator.base('acme'), api_key='key-acme', logger=log)
    spark.impex.exp(services=['my-folder/my-service'], directory=tmp_path)
    assert any(level == logging.INFO and 'export job created' in text for level, text, _ in records)
    assert any(level == logging.WARNING and 'not verified by the server' in text for level, text, _ in records)
    assert {t for _, _, t in records} == {threading.get_ident()}
    quiet = cspark.Client(base_url=emulator.base('acme'), api_key='key-acme', logger=False)
    before = len(records)
    quiet.impex.exp(services=['my-folder/my-service'], directory=tmp_path, overwrite=True)
    assert len(records) == before


def test_tqdm_progress_draws_a_bar_per_transfer_where_tqdm_is_installed(emulator, tmp_path, monkeypatch):
    import sys
    import types
    bars = []

    class FakeBar:
        def __init__(self, total=None, **kw):
            self.total, self.n, self.closed, self.kw = total, 0, False, kw
            bars.append(self)

        def update(self, k):
            self.n += k

        def close(self):
            self.closed = True

    monkeypatch.setitem(sys.modules, 'tqdm', types.SimpleNamespace(tqdm=FakeBar))
    src, _ = clients(emulator)
    files = src.impex.exp(services=['my-folder/my-service'], directory=tmp_path, progress=cspark.tqdm_progress(leave=False))
    assert bars and bars[0].n == files[0].size and bars[0].kw == {'unit': 'B', 'unit_scale': True, 'desc': 'export', 'leave': False}


def test_a_journal_that_cannot_be_written_is_said_once_the_fleet_ends_with_its_results(emulator, tmp_path):
    src, dst = clients(emulator)
    entries = [{'name': 'm', 'source': src, 'target': dst, 'services': ['my-folder/my-service'],
                'directory': str(tmp_path)}]
    with pytest.raises(cspark.SparkError) as e:
        cspark.migrate_fleet(entries, journal='/dev/full')  # every write: no space left
    assert e.value.code == 'file_error' and '/dev/full' in e.value.message
    assert [r.ok for r in e.value.results] == [True]  # the migrations went on


def test_a_client_made_before_shutdown_says_so_rather_than_waiting_forever(emulator, tmp_path):
    old, _ = clients(emulator)
    cspark.shutdown()
    with pytest.raises(cspark.SparkError) as e:
        old.impex.exp(services=['my-folder/my-service'], directory=tmp_path)
    assert e.value.code == 'cancelled' and 'shut down' in e.value.message
    fresh, _ = clients(emulator)  # a new client starts the engine again
    assert fresh.impex.exp(services=['my-folder/my-service'], directory=tmp_path, overwrite=True)[0].verified
