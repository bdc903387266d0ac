"""Shared fixtures: the installed twin FMUs, test-only FMUs built from tests/fmus."""

import hashlib
import os
import runpy
import shutil
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


# Test FMUs built before from the same sources are reused (build/ is not in git):
# the unit tier then starts in seconds instead of compiling some hundred FMUs.
_CACHE = ROOT / "build" / "test-fmus"


def _sources_digest(models) -> str:
    digest = hashlib.sha256()
    inputs = [ROOT / "fmus" / "build_fmus.py", *(f for m in models for f in sorted(m.rglob("*"))
                                                  if f.is_file())]
    inputs += sorted((ROOT / "fmus").glob("*.[ch]")) + sorted((ROOT / "fmus").glob("*/*.[ch]"))
    for file in inputs:
        digest.update(file.relative_to(ROOT).as_posix().encode() + b"\0" + file.read_bytes())
    return digest.hexdigest()[:16]


def _built_before(models) -> Path | None:
    done = _CACHE / _sources_digest(models)
    return done if (done / "complete").is_file() else None


def _keep_build(models, out: Path) -> None:
    """Copy a finished build into the cache; a failed copy only costs the next build."""
    target = _CACHE / _sources_digest(models)
    if target.exists():
        return
    partial = _CACHE / f".{target.name}-{os.getpid()}"
    try:
        shutil.copytree(out, partial)
        (partial / "complete").touch()
        partial.rename(target)
    except OSError:
        shutil.rmtree(partial, ignore_errors=True)


@pytest.fixture(scope="session")
def test_fmus(tmp_path_factory):
    """Build the FMUs in tests/fmus (test data, compiled from C like the twins)
    for FMI 1.0 (co-simulation), 2.0 and 3.0, into ``<out>/fmi1``, ``fmi2`` and ``fmi3``,
    and hybrid models for FMI 2.0 model exchange into ``<out>/fmi2me``.

    Returns ``path(name, version="2.0", *, model_exchange=False)``; with
    ``model_exchange`` the FMI 2.0 model exchange build of a hybrid model.
    """
    builder = runpy.run_path(str(ROOT / "fmus" / "build_fmus.py"))
    folders = builder["FOLDERS"]
    models = sorted(p for p in (ROOT / "tests" / "fmus").iterdir() if p.is_dir())
    out = _built_before(models)
    if out is None:
        out = tmp_path_factory.mktemp("test-fmus")
        builder["build_all"](out, models, versions=tuple(folders))
        _keep_build(models, out)

    def path(name, version="2.0", *, model_exchange=False):
        if model_exchange:
            return out / builder["ME_FOLDER"] / f"{name}.fmu"
        return out / folders[version] / f"{name}.fmu"

    return path


# The scenario tier: real-time runs, servers, brokers, processes, other exporters'
# tools and whole examples.  `pytest -m "not slow"` runs the unit tier alone.
SLOW = ("live/", "rpc/", "web/", "twins/", "test_examples.py", "test_readme.py", "test_sweep.py",
        "test_cli.py", "test_cli_results.py", "fmi/test_exporters.py", "fmi/test_third_party.py",
        "execution/test_pacing.py", "execution/test_flush.py")


def pytest_collection_modifyitems(config, items):
    for item in items:
        where = Path(str(item.fspath)).relative_to(ROOT / "tests").as_posix()
        if where.startswith(SLOW):
            item.add_marker(pytest.mark.slow)
