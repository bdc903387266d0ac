"""Compiled parts of cosim: the native FMI binding, the master's step loop, the
component twin FMUs (built from fmus/) and the gRPC stubs (from proto/).

Set COSIM_DEBUG=1 to build the Cython modules with bounds checks and
assertions turned back on.
"""

import importlib.util
import os
import runpy
import shlex
import shutil
import subprocess
import sys
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
    # The native FMI binding, one extension per role (see cosim/fmi/_binding.pyx).
    # Only _log links the C log sink: its registries must exist once.
    Extension("cosim.fmi._log", ["cosim/fmi/_log.pyx", "cosim/fmi/logsink.c"],
              include_dirs=INCLUDES, define_macros=MACROS),
    Extension("cosim.fmi._library", ["cosim/fmi/_library.pyx"],
              include_dirs=INCLUDES, define_macros=MACROS, libraries=["dl"]),
    *[Extension(f"cosim.fmi.{name}", [f"cosim/fmi/{name}.pyx"],
                include_dirs=INCLUDES, define_macros=MACROS)
      for name in ("_handle", "_values", "_state", "_binding")],
    # The master's native core, one extension per role (see cosim/master/_core.pyx).
    *[Extension(f"cosim.master.{name}", [f"cosim/master/{name}.pyx"],
                include_dirs=INCLUDES, define_macros=MACROS)
      for name in ("_clocks", "_loops", "_stepcontrol", "_build", "_core")],
    Extension("cosim.master._stepping", ["cosim/master/_stepping.pyx"],
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


def generate_stubs(target: Path) -> list[str]:
    """Generate the message and service modules of proto/cosim/v1 (with type
    stubs) into ``target``/cosim/v1; returns the files written."""
    from grpc_tools import protoc

    protos = sorted(str(p.relative_to(ROOT / "proto")) for p in (ROOT / "proto").rglob("*.proto"))
    plugin = shutil.which("protoc-gen-mypy_grpc") or str(Path(sys.executable).parent / "protoc-gen-mypy_grpc")
    include = str(Path(protoc.__file__).parent / "_proto")
    args = ["protoc", f"-I{ROOT / 'proto'}", f"-I{include}", f"--python_out={target}",
            f"--pyi_out={target}", f"--grpc_python_out={target}"]
    if Path(plugin).exists():
        args += [f"--plugin=protoc-gen-mypy_grpc={plugin}", f"--mypy_grpc_out={target}"]
    if protoc.main(args + protos) != 0:
        raise RuntimeError("generating the gRPC stubs from proto/ failed")
    package = target / "cosim" / "v1"
    (package / "__init__.py").write_text('"""Generated gRPC stubs of the cosim.v1 protocol."""\n')
    return [str(p) for p in package.iterdir() if p.suffix in (".py", ".pyi")]


def build_isolation(target: Path) -> list[str]:
    """Compile the proxy library and worker executable of isolated components
    (cosim/isolation) into ``target``/cosim/isolation; returns the files written."""
    source = ROOT / "cosim" / "isolation"
    out = target / "cosim" / "isolation"
    out.mkdir(parents=True, exist_ok=True)
    cc = shlex.split(os.environ.get("CC", "gcc"))
    common = ["-std=gnu11", "-O2", "-Wall", "-g" if DEBUG else "-DNDEBUG"]
    built = {out / "libcosimproxy.so": [*common, "-fPIC", "-shared", "-fvisibility=hidden",
                                        str(source / "proxy.c"), str(source / "proxy_fmi.c")],
             out / "cosim-worker": [*common, "-pthread", str(source / "worker.c"), "-ldl"]}
    for path, args in built.items():
        subprocess.run([*cc, *args, "-o", str(path)], check=True)
    return [str(p) for p in built]


class BuildCompiled(build_ext):
    """Build the extensions, the twin FMUs into cosim/twins/fmi2 and fmi3, the
    proxy and worker of isolated components into cosim/isolation, and the
    gRPC stubs into cosim/v1.

    In an editable install (``pip install -e .``) the outputs go into the
    source tree, otherwise into the build folder that becomes the wheel.
    """

    def run(self):
        super().run()
        builder = runpy.run_path(str(ROOT / "fmus" / "build_fmus.py"))
        target = ROOT if self.inplace else Path(self.build_lib)
        self._generated = [str(p) for p in builder["build_all"](target / "cosim" / "twins")]
        self._generated += build_isolation(target)
        self._generated += generate_stubs(target)

    def get_outputs(self):
        return super().get_outputs() + getattr(self, "_generated", [])


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
