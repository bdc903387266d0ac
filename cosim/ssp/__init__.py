"""SSP (System Structure and Parameterization) read and write.

:func:`load` reads ``.ssp`` archives and ``.ssd`` files (SSP 1.0 and 2.0)
into a :class:`cosim.System`; :func:`save` writes one back; :func:`read`
returns a report with every problem found (what ``cosim validate`` prints).
OSP system structures (``OspSystemStructure.xml``, libcosim's format) are
read by the same functions.
"""

from cosim.ssp.osp import load_osp, read_osp
from cosim.ssp.files import load, read
from cosim.ssp.reader import Problem, Report
from cosim.ssp.writer import save

__all__ = ["Problem", "Report", "load", "load_osp", "read", "read_osp", "save"]
