"""Compiled parts of cosim: the native FMI binding, the master's step loop, and
the component twin FMUs (built from fmus/).

Set COSIM_DEBUG=1 to build the Cython modules with bounds checks and
assertions turned back on.
"""

import importlib.util
import os
import runpy
from pathlib import Path

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.dist import Distribution

ROOT = Path(__file__).resolve().parent
DEBUG = os.environ.get("COSIM_DEBUG") == "1"
FMI_HEADERS = str(Path(importlib.util.find_spec("fmpy").origin).parent / "c-code")
INCLUDES = ["cosim/fmi", FMI_HEADERS, numpy.get_include()]
MACROS = [("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")]

extensions = [
    Extension("cosim.fmi._binding", ["cosim/fmi/_binding.pyx", "cosim/fmi/logsink.c"],
              include_dirs=INCLUDES, define_macros=MACROS, libraries=["dl"]),
    Extension("cosim.master._core", ["cosim/master/_core.pyx"],
              include_dirs=INCLUDES, define_macros=MACROS,
              extra_compile_args=["-fopenmp"], extra_link_args=["-fopenmp"]),
]

directives = {
    "language_level": 3,
    "boundscheck": DEBUG,
    "wraparound": DEBUG,
    "initializedcheck": DEBUG,
    "cdivision": not DEBUG,
    "embedsignature": True,
}


class BuildCompiled(build_ext):
    """Build the extensions, then the twin FMUs into cosim/twins/fmi2 and fmi3.

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
    """The wheel carries native code, so it is platform specific."""

    def has_ext_modules(self):
        return True


setup(
    cmdclass={"build_ext": BuildCompiled},
    distclass=BinaryDistribution,
    ext_modules=cythonize(extensions, compiler_directives=directives,
                          include_path=["."], gdb_debug=DEBUG),
)
