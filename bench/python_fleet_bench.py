#!/usr/bin/env python3
"""python-fleet-bench: 1,000 migrations through cspark_impex's AsyncClient
next to `cspark-impex batch` over the same migrations, against one emulator,
in one run. Each client runs as a child process measured with wait4: wall
time, CPU time (user + system) and peak RSS. Prints a table.

    bench/python_fleet_bench.py --build build/release          # the build must have -Dpython=enabled
    bench/python_fleet_bench.py --pairs 20 --services 50 --job-ms 20 --package-kib 256

Every row moves the same migrations with their own jobs (no coalescing), 64
in flight: `batch --no-coalesce --concurrency 64`, `migrate_fleet_async`
(AsyncClients, concurrency 64), and `asyncio.gather` of `impex.migrate`
calls (one at a time per tenant pair, as a user would keep within Spark's
one job per tenant)."""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

CHILD = r'''
import asyncio, json, sys
sys.path.insert(0, sys.argv[1])
import cspark_impex as cspark
cfg = json.loads(sys.argv[2])
mode = sys.argv[3]

async def main():
    clients = {t: cspark.AsyncClient(base_url=u, api_key=k, logger=False) for t, (u, k) in cfg['tenants'].items()}
    migrations = cfg['migrations']
    if mode == 'fleet':
        entries = [{'name': m['name'], 'source': clients[m['source']], 'target': clients[m['target']],
                    'services': [m['service']], 'directory': cfg['dir']} for m in migrations]
        results = await cspark.migrate_fleet_async(entries, concurrency=64)
        return sum(r.ok for r in results)
    locks = {}
    async def one(m):
        lock = locks.setdefault(m['source'], asyncio.Lock())
        async with lock:
            r = await clients[m['source']].impex.migrate(clients[m['target']], services=[m['service']],
                                                         directory=cfg['dir'])
            return r.ok
    return sum(await asyncio.gather(*(one(m) for m in migrations)))

print(json.dumps({'ok': asyncio.run(main())}))
'''


def measure(argv, env=None):
    t0 = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    out = proc.stdout.read()
    _, status, ru = os.wait4(proc.pid, 0)
    wall = time.monotonic() - t0
    return {'wall': wall, 'cpu': ru.ru_utime + ru.ru_stime, 'rss': ru.ru_maxrss / 1024.0, 'status': status,
            'out': out.decode(errors='replace')}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--build', default='build/release')
    ap.add_argument('--pairs', type=int, default=20)
    ap.add_argument('--services', type=int, default=50)
    ap.add_argument('--job-ms', type=int, default=20)
    ap.add_argument('--package-kib', type=int, default=256)
    a = ap.parse_args()
    build = os.path.abspath(a.build)
    emulator = os.path.join(build, 'src/emulator/cspark-emulator')
    cli = os.path.join(build, 'src/cli/cspark-impex')
    package_path = os.path.join(build, 'python')
    work = tempfile.mkdtemp(prefix='python-fleet-bench-')
    emu = subprocess.Popen([emulator, '--tenants', str(a.pairs), '--target-tenants', str(a.pairs), '--services',
                            str(a.services), '--job-ms', str(a.job_ms), '--package-bytes', str(a.package_kib * 1024),
                            '--print-credentials'], stdout=subprocess.PIPE, text=True)
    tenants = {}
    for _ in range(2 * a.pairs + 3):
        line = emu.stdout.readline()
        m = re.match(r'tenant (\S+) (\S+) api_key=(\S+)', line)
        if m:
            tenants[m.group(1)] = (m.group(2), m.group(3))
        if line.startswith('document store'):
            break
    migrations = [{'name': f'p{p:04d}-s{s}', 'source': f'tenant-{p:04d}', 'target': f'target-{p:04d}',
                   'service': f'folder-1/service-{s}'} for p in range(1, a.pairs + 1) for s in range(1, a.services + 1)]
    env = dict(os.environ)
    plan = {'migrations': []}
    for m in migrations:
        for side in ('source', 'target'):
            env['KEY_' + m[side].replace('-', '_')] = tenants[m[side]][1]
        plan['migrations'].append({
            'name': m['name'],
            'source': {'base_url': tenants[m['source']][0], 'api_key_env': 'KEY_' + m['source'].replace('-', '_')},
            'target': {'base_url': tenants[m['target']][0], 'api_key_env': 'KEY_' + m['target'].replace('-', '_')},
            'export': {'services': [m['service']]}})
    rows = []
    try:
        for mode in ('batch', 'fleet', 'gather'):
            out_dir = os.path.join(work, mode)
            os.makedirs(out_dir)
            if mode == 'batch':
                with open(os.path.join(out_dir, 'plan.json'), 'w') as f:
                    json.dump(plan, f)
                r = measure([cli, '--json', '--quiet', 'batch', os.path.join(out_dir, 'plan.json'), '--journal',
                             os.path.join(out_dir, 'run.jsonl'), '--no-coalesce', '--concurrency', '64'], env)
                doc = json.loads(r['out'] or '{}')
                ok = doc.get('done', 0)
            else:
                cfg = {'tenants': tenants, 'migrations': migrations, 'dir': out_dir}
                r = measure([sys.executable, '-c', CHILD, package_path, json.dumps(cfg), mode])
                ok = json.loads(r['out'] or '{"ok": 0}')['ok']
            rows.append((mode, ok, r))
    finally:
        emu.terminate()
        emu.wait()
    base = rows[0][2]
    print(f'{len(migrations)} migrations over {a.pairs} pairs, jobs of {a.job_ms} ms, packages of {a.package_kib} KiB, 64 in flight')
    print(f'{"client":<34} {"ok":>6} {"wall s":>8} {"CPU s":>7} {"CPU x":>6} {"peak RSS MiB":>13} {"RSS x":>6}')
    names = {'batch': 'cspark-impex batch --no-coalesce', 'fleet': 'Python migrate_fleet_async',
             'gather': 'Python gather(impex.migrate)'}
    for mode, ok, r in rows:
        print(f'{names[mode]:<34} {ok:>6} {r["wall"]:>8.2f} {r["cpu"]:>7.2f} {r["cpu"] / base["cpu"]:>6.2f} '
              f'{r["rss"]:>13.1f} {r["rss"] / base["rss"]:>6.2f}')


if __name__ == '__main__':
    main()
