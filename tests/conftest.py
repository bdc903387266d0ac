"""Shared fixtures: the installed twin FMUs, test-only FMUs built from tests/fmus."""

import runpy
from pathlib import Path

import pytest

from cosim import twins
from fmpy_driver import Driver
from mqtt_brokers import chosen_kind

ROOT = Path(__file__).resolve().parents[1]


def pytest_report_header(config):
    """Say which MQTT broker the live tests run on, and what is not installed."""
    kind, why = chosen_kind()
    return f"MQTT broker: {why}" if kind else f"MQTT broker: none, the MQTT tests will fail: {why}"


@pytest.fixture(params=["2.0", "3.0"], ids=["fmi2", "fmi3"])
def fmi_version(request):
    """Run the test once against the FMI 2.0 and once against the FMI 3.0 build."""
    return request.param


@pytest.fixture
def open_twin():
    """Factory: open_twin(name, version) -> Driver; instances are freed after the test."""
    opened = []

    def factory(name, version="2.0", instance="instance"):
        driver = Driver(twins.path(name, version), name=instance)
        opened.append(driver)
        return driver

    yield factory
    for driver in opened:
        driver.close()


@pytest.fixture(scope="session")
def test_fmus(tmp_path_factory):
    """Build the FMUs in tests/fmus (test data, compiled from C like the twins)
    for FMI 1.0 (co-simulation), 2.0 and 3.0, into ``<out>/fmi1``, ``fmi2`` and ``fmi3``,
    and hybrid models for FMI 2.0 model exchange into ``<out>/fmi2me``.

    Returns ``path(name, version="2.0", *, model_exchange=False)``; with
    ``model_exchange`` the FMI 2.0 model exchange build of a hybrid model.
    """
    builder = runpy.run_path(str(ROOT / "fmus" / "build_fmus.py"))
    out = tmp_path_factory.mktemp("test-fmus")
    folders = builder["FOLDERS"]
    builder["build_all"](out, sorted(p for p in (ROOT / "tests" / "fmus").iterdir() if p.is_dir()),
                         versions=tuple(folders))

    def path(name, version="2.0", *, model_exchange=False):
        if model_exchange:
            return out / builder["ME_FOLDER"] / f"{name}.fmu"
        return out / folders[version] / f"{name}.fmu"

    return path
