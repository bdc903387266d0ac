# cython: language_level=3
"""Reading and writing an instance's values: every value type of FMI 1.0,
2.0 and 3.0 (arrays, strings and binaries included), FMI 3 clock intervals
and shifts, and output derivatives; each call checked with
:meth:`cosim.fmi._handle.Handle.check`.  Values come and go as numpy arrays;
the step loop does not come here (it calls ``_calls.pxd`` itself).
"""

import numpy as np

cimport numpy as cnp
from libc.stdint cimport uint32_t
from libc.stdlib cimport free, malloc

from cosim.fmi._calls cimport slave_get, slave_get_output_derivatives, slave_set
from cosim.fmi._types cimport T_BINARY, T_BOOL, T_STRING, f3_get_binary_t, f3_set_binary_t

from cosim.errors import ModelError
from cosim.fmi._library import FMI2_TYPE_NAMES, TYPE_CODES, function_name

cnp.import_array()

# numpy dtypes of the value types, by code (strings and binaries are not arrays)
DTYPES = [np.float64, np.float32, np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32,
          np.int64, np.uint64, np.bool_]


cdef size_t value_count(Handle h, size_t n, counts) except? 0:
    """How many values variables with ``counts`` elements hold (n scalars if None)."""
    if counts is None:
        return n
    if len(counts) != n or any(c < 1 for c in counts):
        raise ValueError(f"{len(counts)} element counts (each >= 1) for {n} value references")
    total = sum(counts)
    if total != n and h.slave.version <= 2:
        raise ModelError(f"component '{h.name}': FMI {h.library.fmi_version} has no "
                         "array variables")
    return total


cdef tuple _prepare(Handle h, str value_type, str action, vrs, counts):
    """(type code, value references as a uint32 array, how many values they
    hold) of a get or set ("Get", "Set"), once the instance is alive."""
    h.require_alive()
    code = type_code(h, value_type, action)
    vr = np.ascontiguousarray(vrs, dtype=np.uint32)
    return code, vr, value_count(h, vr.shape[0], counts)


cdef object get_values(Handle h, str value_type, vrs, counts):
    """Values of ``vrs`` (see :meth:`cosim.fmi._binding.Instance.get`)."""
    cdef int code
    cdef cnp.ndarray vr, out
    cdef size_t nvalues
    cdef const char** strings
    code, vr, nvalues = _prepare(h, value_type, "Get", vrs, counts)
    cdef size_t n = vr.shape[0]
    if code == T_BINARY:
        if nvalues != n:
            raise ModelError(f"component '{h.name}': binary arrays are not supported")
        return get_binary(h, <uint32_t*>cnp.PyArray_DATA(vr), n)
    if code == T_STRING:
        if nvalues != n:
            raise ModelError(f"component '{h.name}': string arrays are not supported")
        strings = <const char**>malloc(max(n, 1) * sizeof(char*))
        try:
            h.check(slave_get(&h.slave, code, <uint32_t*>cnp.PyArray_DATA(vr), n, strings, n),
                function_name(h.slave.version, "Get", code))
            return [strings[i].decode() for i in range(n)]
        finally:
            free(strings)
    if code == T_BOOL and h.slave.version == 2:
        out = np.empty(n, dtype=np.int32)       # fmi2Boolean is an int
    elif code == T_BOOL and h.slave.version == 1:
        out = np.empty(n, dtype=np.uint8)       # fmi1Boolean is a char: any nonzero is true
    else:
        out = np.empty(nvalues, dtype=DTYPES[code])
    h.check(slave_get(&h.slave, code, <uint32_t*>cnp.PyArray_DATA(vr), n,
                          cnp.PyArray_DATA(out), nvalues),
            function_name(h.slave.version, "Get", code))
    return out != 0 if code == T_BOOL and h.slave.version <= 2 else out


cdef set_values(Handle h, str value_type, vrs, values, counts):
    """Set ``vrs`` to ``values`` (see :meth:`cosim.fmi._binding.Instance.set`)."""
    cdef int code
    cdef cnp.ndarray vr, data
    cdef size_t nvalues
    cdef const char** strings
    cdef list encoded
    code, vr, nvalues = _prepare(h, value_type, "Set", vrs, counts)
    cdef size_t n = vr.shape[0]
    if code == T_BINARY:
        if nvalues != n:
            raise ModelError(f"component '{h.name}': binary arrays are not supported")
        set_binary(h, <uint32_t*>cnp.PyArray_DATA(vr), n, values)
        return
    if code == T_STRING:
        encoded = [str(v).encode() for v in values]
        if len(encoded) != n or nvalues != n:
            raise ValueError(f"{n} value references but {len(encoded)} values")
        strings = <const char**>malloc(max(n, 1) * sizeof(char*))
        try:
            for i in range(n):
                strings[i] = <const char*>(<bytes>encoded[i])
            h.check(slave_set(&h.slave, code, <uint32_t*>cnp.PyArray_DATA(vr), n, strings, n),
                function_name(h.slave.version, "Set", code))
        finally:
            free(strings)
        return
    if code == T_BOOL and h.slave.version <= 2:
        dtype = np.int32 if h.slave.version == 2 else np.uint8
    else:
        dtype = DTYPES[code]
    data = np.ascontiguousarray(values, dtype=dtype).reshape(-1)
    if <size_t>data.shape[0] != nvalues:
        what = f"{n} value references" if nvalues == n else \
            f"{n} value references holding {nvalues} elements"
        raise ValueError(f"{what} but {data.shape[0]} values")
    h.check(slave_set(&h.slave, code, <uint32_t*>cnp.PyArray_DATA(vr), n,
                          cnp.PyArray_DATA(data), nvalues),
            function_name(h.slave.version, "Set", code))


cdef list get_binary(Handle h, const uint32_t* vr, size_t n):
    """fmi3GetBinary: the values as bytes (copied: the FMU's pointers last only
    until its next call)."""
    cdef size_t* sizes = <size_t*>malloc(max(n, 1) * sizeof(size_t))
    cdef const unsigned char** values = <const unsigned char**>malloc(max(n, 1) * sizeof(void*))
    try:
        if sizes == NULL or values == NULL:
            raise MemoryError()
        h.check((<f3_get_binary_t>h.slave.fn.get[T_BINARY])(
            h.slave.component, vr, n, sizes, values, n), "fmi3GetBinary")
        out = []
        for i in range(n):
            if values[i] == NULL and sizes[i] > 0:
                raise ModelError(f"component '{h.name}': fmi3GetBinary gave no data for "
                                 f"{sizes[i]} bytes of value reference {vr[i]}")
            out.append((<const char*>values[i])[:sizes[i]] if sizes[i] else b"")
        return out
    finally:
        free(sizes)
        free(values)


cdef set_binary(Handle h, const uint32_t* vr, size_t n, values):
    """fmi3SetBinary with ``values``, each bytes-like."""
    cdef list data = [bytes(v) for v in values]
    if <size_t>len(data) != n:
        raise ValueError(f"{n} value references but {len(data)} values")
    cdef size_t* sizes = <size_t*>malloc(max(n, 1) * sizeof(size_t))
    cdef const unsigned char** pointers = <const unsigned char**>malloc(max(n, 1) * sizeof(void*))
    try:
        if sizes == NULL or pointers == NULL:
            raise MemoryError()
        for i in range(n):
            sizes[i] = len(data[i])
            pointers[i] = <const unsigned char*>(<bytes>data[i])
        h.check((<f3_set_binary_t>h.slave.fn.set[T_BINARY])(
            h.slave.component, vr, n, sizes, pointers, n), "fmi3SetBinary")
    finally:
        free(sizes)
        free(pointers)


cdef cnp.ndarray _references(Handle h, str function, vrs):
    """``vrs`` as a uint32 array, once the instance is alive and its binary
    exports ``function``."""
    h.require_alive()
    h.require(function)
    return np.ascontiguousarray(vrs, dtype=np.uint32)


cdef tuple clock_intervals(Handle h, vrs):
    """fmi3GetIntervalDecimal of the clocks ``vrs``: (intervals, qualifiers)."""
    cdef cnp.ndarray vr = _references(h, "fmi3GetIntervalDecimal", vrs)
    cdef size_t n = vr.shape[0]
    cdef cnp.ndarray intervals = np.zeros(max(n, 1), dtype=np.float64)
    cdef cnp.ndarray qualifiers = np.zeros(max(n, 1), dtype=np.intc)
    h.check(h.library.fn.f3_get_interval_decimal(
        h.slave.component, <uint32_t*>cnp.PyArray_DATA(vr), n,
        <double*>cnp.PyArray_DATA(intervals), <int*>cnp.PyArray_DATA(qualifiers)),
        "fmi3GetIntervalDecimal")
    return intervals[:n], qualifiers[:n]


cdef object clock_shifts(Handle h, vrs):
    """fmi3GetShiftDecimal of the clocks ``vrs``, as a float64 array."""
    cdef cnp.ndarray vr = _references(h, "fmi3GetShiftDecimal", vrs)
    cdef size_t n = vr.shape[0]
    cdef cnp.ndarray shifts = np.zeros(max(n, 1), dtype=np.float64)
    h.check(h.library.fn.f3_get_shift_decimal(
        h.slave.component, <uint32_t*>cnp.PyArray_DATA(vr), n,
        <double*>cnp.PyArray_DATA(shifts)), "fmi3GetShiftDecimal")
    return shifts[:n]


cdef object output_derivatives(Handle h, vrs, counts):
    """First derivatives of the float64 outputs ``vrs`` (see
    :meth:`cosim.fmi._binding.Instance.get_output_derivatives`)."""
    h.require_alive()
    function = ("fmi2GetRealOutputDerivatives" if h.slave.version == 2
                else "fmi3GetOutputDerivatives" if h.slave.version == 3 else None)
    if function is None:
        raise ModelError(f"component '{h.name}': output derivatives are read from FMI 2.0 "
                         "and 3.0 co-simulation FMUs only")
    h.require(function)
    if (h.slave.version == 2 and h.library.fn.f2_get_output_derivatives == NULL) or \
            (h.slave.version == 3 and h.library.fn.f3_get_output_derivatives == NULL):
        raise ModelError(f"component '{h.name}' ({h.model.name}): the FMU binary does "
                         f"not export {function}")
    cdef cnp.ndarray vr = np.ascontiguousarray(vrs, dtype=np.uint32)
    cdef size_t n = vr.shape[0]
    cdef size_t nvalues = value_count(h, n, counts)
    cdef cnp.ndarray order = np.ones(max(n, 1), dtype=np.intc)
    cdef cnp.ndarray out = np.empty(nvalues, dtype=np.float64)
    h.check(slave_get_output_derivatives(
        &h.slave, <uint32_t*>cnp.PyArray_DATA(vr), n, <int*>cnp.PyArray_DATA(order),
        <double*>cnp.PyArray_DATA(out), nvalues), function)
    return out


cdef int type_code(Handle h, str value_type, str action) except -1:
    code = TYPE_CODES.get(value_type)
    if code is None:
        raise ModelError(f"component '{h.name}': values of type {value_type} cannot be "
                         "read or written")
    if h.slave.version <= 2 and code not in FMI2_TYPE_NAMES:
        raise ModelError(f"component '{h.name}': FMI {h.library.fmi_version} has no "
                         f"{value_type} values")
    if (h.library.fn.get[code] if action == "Get" else h.library.fn.set[code]) == NULL:
        raise ModelError(f"component '{h.name}' ({h.model.name}): the FMU binary does not "
                         f"export {function_name(h.slave.version, action, code)}")
    return code
