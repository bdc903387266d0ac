"""What an FMI 1.0 model description says that fmpy does not keep.

fmpy reads FMI 1.0 descriptions into its FMI 2 shapes; cosim also needs the
co-simulation implementation, the raw causality and variability, aliases and
direct dependencies, read here from the XML text.
"""

from __future__ import annotations

from dataclasses import dataclass

from cosim.errors import ModelError

__all__ = ["FMI1_COSIMULATION", "Fmi1Details", "Fmi1Variable", "fmi1_dependencies", "fmi1_roles",
           "read_fmi1_details"]

# The implementations of an FMI 1.0 co-simulation slave.
FMI1_COSIMULATION = ("CoSimulation_StandAlone", "CoSimulation_Tool")

@dataclass(frozen=True)
class Fmi1Variable:
    """What an FMI 1.0 ScalarVariable says that fmpy does not keep or reshapes."""

    causality: str                        # input, output, internal, none
    variability: str                      # constant, parameter, discrete, continuous
    alias: str                            # noAlias, alias, negatedAlias
    direct_dependency: tuple[str, ...] | None   # None: no DirectDependency element


@dataclass(frozen=True)
class Fmi1Details:
    """The parts of an FMI 1.0 model description that fmpy does not read."""

    implementation: str | None            # CoSimulation_StandAlone, CoSimulation_Tool, None
    can_handle_variable_step: bool
    variables: dict[str, Fmi1Variable]


def read_fmi1_details(xml: bytes, path: str) -> Fmi1Details:
    """Capabilities, raw causality/variability, aliases and direct dependencies
    from the text of an FMI 1.0 ``modelDescription.xml``."""
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    try:
        root = etree.fromstring(xml, parser=parser)
    except etree.XMLSyntaxError as exc:
        raise ModelError(f"{path}: invalid modelDescription.xml: {exc}") from None
    implementation, variable_step = None, False
    for kind in FMI1_COSIMULATION:
        element = root.find(f"Implementation/{kind}")
        if element is not None:
            implementation = kind
            capabilities = element.find("Capabilities")
            if capabilities is not None:
                variable_step = capabilities.get(
                    "canHandleVariableCommunicationStepSize", "false").strip() in ("true", "1")
    variables = {}
    for sv in root.iterfind("ModelVariables/ScalarVariable"):
        if sv.get("name") in variables:
            continue        # a duplicate name: the first declaration counts, as in fmpy's reading
        dependency = sv.find("DirectDependency")
        variables[sv.get("name")] = Fmi1Variable(
            causality=sv.get("causality", "internal"),
            variability=sv.get("variability", "continuous"),
            alias=sv.get("alias", "noAlias"),
            direct_dependency=None if dependency is None else tuple(
                (n.text or "").strip() for n in dependency.iterfind("Name")))
    return Fmi1Details(implementation, variable_step, variables)


def fmi1_roles(raw: Fmi1Variable) -> tuple[str, str]:
    """cosim's (causality, variability) of an FMI 1.0 variable.

    FMI 1.0 parameters (variability "parameter") may be set only before
    fmiInitializeSlave: they are fixed parameters.  An output of variability
    "parameter" stays an output, computed once.
    """
    if raw.variability == "parameter":
        return ("output" if raw.causality == "output" else "parameter"), "fixed"
    causality = raw.causality if raw.causality in ("input", "output") else "local"
    return causality, raw.variability


def fmi1_dependencies(variables: dict, fmi1: Fmi1Details,
                       inputs: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """Direct feedthrough of FMI 1.0 outputs.

    An output's DirectDependency element lists the inputs it feeds through
    from.  Without the element cosim assumes no feedthrough, where the FMI 1.0
    text (written for model exchange) would assume every input: co-simulation
    slaves exported from FMI 1.0 tools rarely declare it and update their
    outputs in fmiDoStep, and assuming every input would turn every feedback
    loop between such slaves into an algebraic loop, iterated at every
    communication point for nothing.
    """
    dependencies = {}
    for v in variables.values():
        if v.causality == "output":
            declared = fmi1.variables[v.name].direct_dependency or ()
            dependencies[v.name] = tuple(name for name in declared if name in inputs)
    return dependencies


