"""Compiled parts of cosim: the component twin FMUs (built from fmus/)."""

import runpy
from pathlib import Path

from setuptools import setup
from setuptools.command.build_ext import build_ext
from setuptools.dist import Distribution

ROOT = Path(__file__).resolve().parent


class BuildCompiled(build_ext):
    """Build extensions, then the twin FMUs into cosim/twins/fmi2 and fmi3.

    In an editable install (``pip install -e .``) the outputs go into the
    source tree, otherwise into the build folder that becomes the wheel.
    """

    def run(self):
        super().run()
        builder = runpy.run_path(str(ROOT / "fmus" / "build_fmus.py"))
        target = ROOT if self.inplace else Path(self.build_lib)
        self._fmus = [str(p) for p in builder["build_all"](target / "cosim" / "twins")]

    def get_outputs(self):
        return super().get_outputs() + getattr(self, "_fmus", [])


class BinaryDistribution(Distribution):
    """The wheel carries native FMU binaries, so it is platform specific."""

    def has_ext_modules(self):
        return True


setup(cmdclass={"build_ext": BuildCompiled}, distclass=BinaryDistribution, ext_modules=[])
