"""The emulator for the Python suite: a cspark-emulator process on
127.0.0.1 (an ephemeral port), seeded with two tenants and known keys."""

import json
import os
import re
import subprocess
import sys
import urllib.request

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
EMULATOR = os.environ.get('CSPARK_EMULATOR', os.path.join(ROOT, 'build', 'clang', 'src', 'emulator', 'cspark-emulator'))
PACKAGE_DIR = os.environ.get('CSPARK_PYTHON_PATH')
if PACKAGE_DIR:
    sys.path.insert(0, PACKAGE_DIR)

SEED = {
    'tenants': [
        {'name': 'acme', 'api_key': 'key-acme', 'folders': [
            {'name': 'my-folder', 'services': [
                {'name': 'my-service', 'versions': ['0.4.1', '0.4.2']},
                {'name': 'my-service-2', 'versions': ['1.0.0']},
            ]},
            {'name': 'my-other-folder', 'services': [{'name': 'my-service-2', 'versions': ['2.0.0']}]},
        ]},
        {'name': 'prod', 'api_key': 'key-prod', 'folders': [
            {'name': 'my-folder', 'services': []},
            {'name': 'this-folder', 'services': []},
        ]},
    ]
}


class Emulator:
    def __init__(self, tmp, *args):
        seed = os.path.join(tmp, 'seed.json')
        with open(seed, 'w') as f:
            json.dump(SEED, f)
        self.proc = subprocess.Popen([EMULATOR, '--seed', seed, '--print-credentials', *args], stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        self.url = ''
        self.credentials = {}
        for _ in range(100):  # the banner: address, a line per tenant, the store
            line = self.proc.stdout.readline()
            if not line or line.startswith('document store'):
                break
            m = re.search(r'listening on (http://127\.0\.0\.1:\d+)', line)
            if m:
                self.url = m.group(1)
            if line.startswith('tenant '):
                name = line.split()[1]
                self.credentials[name] = dict(kv.split('=', 1) for kv in line.split()[3:])
        assert self.url, 'the emulator did not start'
        # The emulator's further lines are not read: nothing may block on them.
        self.proc.stdout.close()

    def base(self, tenant):
        return f'{self.url}/{tenant}'

    def state(self):
        with urllib.request.urlopen(f'{self.url}/_emulator/state', timeout=10) as r:
            return json.loads(r.read())

    def jobs(self, kind, tenant=None):
        return [j for j in self.state()['jobs'] if j['kind'] == kind and (tenant is None or j['tenant'] == tenant)]

    def faults(self, *rules):
        body = json.dumps({'rules': list(rules)}).encode()
        req = urllib.request.Request(f'{self.url}/_emulator/faults', data=body, method='PUT',
                                     headers={'content-type': 'application/json'})
        urllib.request.urlopen(req, timeout=10).read()

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture
def emulator(tmp_path):
    emu = Emulator(str(tmp_path))
    yield emu
    emu.stop()


@pytest.fixture
def slow_emulator(tmp_path):
    emu = Emulator(str(tmp_path), '--job-ms', '30000')  # longer than any test waits: its jobs never end by themselves
    yield emu
    emu.stop()
