"""Shared fixtures: the installed twin FMUs opened through fmpy."""

import pytest

from cosim import twins
from fmpy_driver import Driver


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
