"""Fixtures of the end-to-end suite: a throwaway CA, server processes and logged-in clients."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from rivulet_e2e import RestClient, ServerFactory, TLSFiles, client_environment, logged_in_client, make_tls_files


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the item so fixtures can tell whether the test failed."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


def call_failed(request) -> bool:
    report = getattr(request.node, "report_call", None)
    return report is None or report.failed


@pytest.fixture(scope="session")
def tls() -> TLSFiles:
    """A CA and a server certificate made for this session and removed after it."""
    directory = Path(tempfile.mkdtemp(prefix="rivulet-e2e-tls-"))
    try:
        yield make_tls_files(directory)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session")
def client_env(tls: TLSFiles) -> dict[str, str]:
    """Environment for client subprocesses (Python, Node) that trusts the test CA."""
    return client_environment(tls)


@pytest.fixture
def server_factory(request, tls: TLSFiles) -> ServerFactory:
    """Starts servers for one test; every process is stopped and every directory removed afterwards.

    When the test fails, the end of each server's log is printed in the teardown section of the report.
    """
    factory = ServerFactory(tls)
    try:
        yield factory
    finally:
        if call_failed(request):
            for server in factory.servers:
                print(f"--- rivulet log (port {server.port}, pid {server.pid}) ---\n{server.log_tail()}")
        factory.cleanup()


@pytest.fixture(scope="session")
def shared_server(tls: TLSFiles):
    """One server for tests that only touch streams and subscriptions with names of their own."""
    factory = ServerFactory(tls)
    try:
        yield factory.start()
    finally:
        factory.cleanup()


@pytest.fixture(autouse=True)
def shared_server_log_on_failure(request):
    """Print what the shared server logged during a failed test that used it."""
    if "shared_server" not in request.fixturenames:
        yield
        return
    server = request.getfixturevalue("shared_server")
    offset = server.log_size()
    yield
    if call_failed(request):
        print(f"--- rivulet log during this test (port {server.port}) ---\n{server.log_since(offset)}")


@pytest.fixture
def rest(shared_server) -> RestClient:
    """A REST client logged in as the admin of the shared server."""
    return logged_in_client(shared_server)
