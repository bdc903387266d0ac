"""``cosim info``, ``cosim validate`` and ``cosim plot``: describe, check and draw files."""

from __future__ import annotations

import logging
from pathlib import Path

from cosim.errors import ConfigurationError

log = logging.getLogger("cosim")


def cmd_info(args) -> int:
    from cosim.fmi.archive import read_model
    path = Path(args.fmu)
    if path.suffix.lower() in (".ssp", ".ssd", ".xml"):
        return _system_info(path)
    model = read_model(args.fmu)
    exp = model.default_experiment
    interfaces = " and ".join(i.replace("model-", "model ") for i in model.interfaces)
    print(f"{model.name} ({Path(args.fmu).name}), FMI {model.fmi_version} {interfaces}")
    if model.description:
        print(f"  {model.description}")
    print(f"  model identifier  {model.model_identifier}")
    if model.interface == "model-exchange":
        print(f"  model exchange    {model.number_of_states} continuous states, "
              f"{model.number_of_event_indicators} event indicators (integrated by a solver)")
    caps = [name for name, on in (("get/set state", model.can_get_and_set_state),
                                  ("serialize state", model.can_serialize_state),
                                  ("variable step size", model.can_handle_variable_step),
                                  ("input derivatives", model.can_interpolate_inputs),
                                  (f"output derivatives (order {model.max_output_derivative_order})",
                                   model.max_output_derivative_order >= 1),
                                  ("event mode", model.has_event_mode),
                                  ("early return from doStep", model.might_return_early)) if on]
    print(f"  capabilities      {', '.join(caps) or 'none'}")
    for k, warning in enumerate(model.warnings):
        print(f"  {'warnings' if k == 0 else '':<17} {warning}")
    if exp.stop_time is not None or exp.step_size is not None or exp.tolerance is not None:
        print(f"  default experiment start={exp.start_time} stop={exp.stop_time} step={exp.step_size}"
              + (f" tolerance={exp.tolerance}" if exp.tolerance is not None else ""))
    rows = [(v.name, v.causality, v.type + (str(list(v.shape)) if v.shape else ""), v.unit or "",
             "" if v.start is None else str(v.start),
             v.description or "") for v in model.variables.values() if v.causality != "independent"]
    header = ("variable", "causality", "type", "unit", "start", "description")
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(5)]
    print()
    for row in [header] + rows:
        print("  " + "  ".join(row[i].ljust(widths[i]) for i in range(5)) + "  " + row[5])
    print()
    for output, inputs in model.dependencies.items():
        if inputs:
            print(f"  {output} feeds through from {', '.join(inputs)}")
    return 0


def _system_info(path: Path) -> int:
    """``cosim info`` of a system file: its components, connections, parameters
    and default experiment."""
    from cosim.cli.run import load_target
    system, _, _ = load_target(str(path), {})
    counts = ((len(system.components), "component"), (len(system.subsystems), "nested system"),
              (len(system.connections), "connection"))
    print(f"system {system.name} ({path.name}): "
          + ", ".join(f"{n} {what}{'s' * (n != 1)}" for n, what in counts))
    experiment = {k: v for k, v in system.default_experiment.items() if v is not None}
    if experiment:
        print("  default experiment " + " ".join(f"{k}={v}" for k, v in experiment.items()))
    for name, model in system.components.items():
        print(f"  component {name}: {model.name}, FMI {model.fmi_version}")
        for parameter, value in system.parameters(name).items():
            print(f"    {parameter} = {value!r}")
    for name in system.subsystems:
        print(f"  nested system {name}")
    for source, target in system.connections:
        print(f"  {source} -> {target}")
    return 0


def cmd_validate(args) -> int:
    path = Path(args.file)
    if path.suffix.lower() == ".fmu":
        from fmpy.validation import validate_fmu

        from cosim.fmi.archive import read_model
        from cosim.fmi.model import untolerated_problems
        from cosim.ssp import Problem
        model = read_model(path)               # cosim's own checks raise with the cause
        if args.strict:
            problems = [Problem("error", str(path), p) for p in validate_fmu(str(path))]
        else:
            # what cosim run tolerates (with the same warnings) does not fail validation
            problems = [Problem("warning", str(path), w) for w in model.warnings]
            problems += [Problem("error", str(path), p) for p in untolerated_problems(str(path))]
    elif path.suffix.lower() in (".ssp", ".ssd", ".xml"):
        from cosim.ssp import read
        problems = read(path, parameter_set=args.parameter_set, strict=args.strict).problems
    else:
        raise ConfigurationError(f"{path}: cosim validates .fmu, .ssp and .ssd files and OSP "
                                 "OspSystemStructure.xml files")
    errors = [p for p in problems if p.severity == "error"]
    warnings = [p for p in problems if p.severity == "warning"]
    for title, group in (("error", errors), ("warning", warnings)):
        if group:
            print(f"{len(group)} {title}{'s' if len(group) != 1 else ''}:")
            for problem in group:
                print(f"  {problem}")
    if not problems:
        print(f"{path}: no problems found")
    elif not errors and path.suffix.lower() == ".fmu" and not args.strict:
        print(f"{path}: usable; cosim tolerates every defect found (--strict counts them as errors)")
    return 1 if errors else 0


def check_plot_file(path) -> None:
    """ResultFileError for a plot file that cannot be written, before anything is computed."""
    from cosim.results.plot import check_plot_file
    check_plot_file(path)


def cmd_plot(args) -> int:
    from cosim.results import read_result
    result = read_result(args.result)
    output = Path(args.output) if args.output else Path(args.result).with_suffix(".png")
    check_plot_file(output)
    try:
        figure = result.plot(args.variables or None, path=output)
    except KeyError as exc:     # a variable not in the file, with close matches
        raise ConfigurationError(f"{args.result}: {exc.args[0]}") from None
    lines = sum(len(ax.get_lines()) for ax in figure.axes)
    panels = len(figure.axes)
    print(f"plotted {lines} variable{'s' * (lines != 1)} in {panels} panel{'s' * (panels != 1)} "
          f"to {output}")
    return 0
