"""Fixtures of the end-to-end suite: a throwaway CA, server processes and logged-in clients."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from rivulet_e2e import RestClient, ServerFactory, TLSFiles, client_environment, logged_in_client, make_tls_files


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
def server_factory(tls: TLSFiles) -> ServerFactory:
    """Starts servers for one test; every process is stopped and every directory removed afterwards."""
    factory = ServerFactory(tls)
    try:
        yield factory
    finally:
        factory.cleanup()


@pytest.fixture(scope="session")
def shared_server(tls: TLSFiles):
    """One server for tests that only touch streams and subscriptions with names of their own."""
    factory = ServerFactory(tls)
    try:
        yield factory.start()
    finally:
        factory.cleanup()


@pytest.fixture
def rest(shared_server) -> RestClient:
    """A REST client logged in as the admin of the shared server."""
    return logged_in_client(shared_server)
