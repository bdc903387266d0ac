# Strings and binaries in the loop: the slots' stores of distinct values
# (see TextStore in _types.pxd), and the set and get of text ports.  An
# FMU's string or binary pointers are valid only until its next call, so
# every value fetched is copied into the slot's store at once.

from libc.stdint cimport int64_t, uint64_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcmp, memcpy, memset, strlen

from cosim.fmi._binding cimport (
    STATUS_ERROR, STATUS_OK, STATUS_WARNING, T_BINARY, f3_get_binary_t, f3_set_binary_t,
    slave_get, slave_set)
from cosim.master._types cimport (
    G_BIN, G_STR, STAGE_GET, STAGE_SET, TEXT_BLOCKS, Buffers, Master, Port, TextEntry,
    TextStore, Unit, fail, slot_at)

cdef extern from *:
    """
    static int cosim_top_bit(unsigned long long x) { return 63 - __builtin_clzll(x); }
    """
    int top_bit "cosim_top_bit"(unsigned long long x) noexcept nogil


cdef inline TextStore* store_of(Master* m, int g, int slot) noexcept nogil:
    return &m.text[g - G_STR][slot]


cdef inline TextEntry* text_entry(TextStore* st, long long i) noexcept nogil:
    """Entry i of the store (0 <= i < n)."""
    cdef int b = top_bit((i >> 4) + 1)
    return &st.blocks[b][i - 16 * ((1LL << b) - 1)]


cdef inline uint64_t text_hash(const char* data, size_t size) noexcept nogil:
    """FNV-1a over the bytes."""
    cdef uint64_t h = 14695981039346656037ULL
    cdef size_t i
    for i in range(size):
        h = (h ^ <unsigned char>data[i]) * 1099511628211ULL
    return h


cdef inline int text_rehash(TextStore* st) noexcept nogil:
    """Double the table (at least 64 places) and place every entry again."""
    cdef size_t size = st.table_size * 2 if st.table_size else 64
    cdef long long* table = <long long*>malloc(size * sizeof(long long))
    cdef long long i
    cdef size_t pos
    if table == NULL:
        return -1
    memset(table, 0xff, size * sizeof(long long))
    for i in range(st.n):
        pos = text_entry(st, i).hash & (size - 1)
        while table[pos] >= 0:
            pos = (pos + 1) & (size - 1)
        table[pos] = i
    free(st.table)
    st.table, st.table_size = table, size
    return 0


cdef inline char* text_bytes(TextStore* st, size_t size) noexcept nogil:
    """Room for ``size`` bytes that never moves: from the current byte block,
    else from a new one twice as large (chained to the old for freeing)."""
    cdef size_t capacity
    cdef char* block
    if st.bytes == NULL or st.used + size > st.capacity:
        capacity = st.capacity * 2 if st.capacity else 256
        if capacity < size + sizeof(char*):
            capacity = size + sizeof(char*)
        block = <char*>malloc(capacity)
        if block == NULL:
            return NULL
        (<char**>block)[0] = st.bytes
        st.bytes, st.used, st.capacity = block, sizeof(char*), capacity
    st.used += size
    return st.bytes + st.used - size


cdef inline long long text_index(TextStore* st, const char* data, size_t size) noexcept nogil:
    """The index of the value (``size`` bytes at ``data``), added if new; -1 if
    memory ran out."""
    cdef uint64_t h = text_hash(data, size)
    cdef size_t pos
    cdef int b
    cdef long long i
    cdef TextEntry* e
    cdef char* copy
    if (st.n + 1) * 2 > <long long>st.table_size and text_rehash(st):
        return -1
    pos = h & (st.table_size - 1)
    while st.table[pos] >= 0:
        e = text_entry(st, st.table[pos])
        if e.hash == h and e.size == size and (size == 0 or memcmp(e.data, data, size) == 0):
            return st.table[pos]
        pos = (pos + 1) & (st.table_size - 1)
    b = top_bit((st.n >> 4) + 1)
    if b >= TEXT_BLOCKS:
        return -1
    if st.blocks[b] == NULL:
        st.blocks[b] = <TextEntry*>malloc((16LL << b) * sizeof(TextEntry))
        if st.blocks[b] == NULL:
            return -1
    copy = text_bytes(st, size + 1)
    if copy == NULL:
        return -1
    if size:
        memcpy(copy, data, size)
    copy[size] = 0
    e = text_entry(st, st.n)
    e.data, e.size, e.hash = copy, size, h
    st.table[pos] = st.n
    st.n += 1
    return st.n - 1


cdef inline void text_free(TextStore* st) noexcept nogil:
    cdef int b
    cdef char* block
    for b in range(TEXT_BLOCKS):
        free(st.blocks[b])
        st.blocks[b] = NULL
    while st.bytes != NULL:
        block = st.bytes
        st.bytes = (<char**>block)[0]
        free(block)
    free(st.table)
    st.table = NULL
    st.n = st.table_size = st.used = st.capacity = 0


cdef inline long long* index_at(Buffers* b, int g, int slot) noexcept nogil:
    return <long long*>slot_at(b, g, slot)


cdef inline int push_text(Master* m, Unit* u, Port* p) noexcept nogil:
    """Set the port's strings or binaries whose index differs from the one last
    set (equal indices are equal values), in one call."""
    cdef int i, nc = 0, status
    cdef int g = p.group
    cdef long long index
    cdef long long* last = <long long*>p.last
    cdef bint all_ = not p.known[0] or m.set_all_inputs
    cdef TextEntry* e
    for i in range(p.n):
        index = index_at(m.rd, g, p.slot[i])[0]
        if not all_ and last[i] == index:
            continue
        e = text_entry(store_of(m, g, p.slot[i]), index)
        p.changed_vr[nc] = p.vr[i]
        (<const char**>p.scratch)[nc] = e.data
        p.lengths[nc] = e.size
        nc += 1
    if nc == 0:
        return 0
    p.known[0] = 0
    if g == G_BIN:
        status = (<f3_set_binary_t>u.slave.fn.set[T_BINARY])(
            u.slave.component, p.changed_vr, nc, p.lengths,
            <const unsigned char**>p.scratch, nc)
    else:
        status = slave_set(&u.slave, p.type, p.changed_vr, nc, p.scratch, nc)
    if status <= STATUS_WARNING:
        for i in range(p.n):
            last[i] = index_at(m.rd, g, p.slot[i])[0]
        p.known[0] = 1
    return status


cdef inline int pull_text(Master* m, Unit* u, Port* p) noexcept nogil:
    """Fetch the port's strings or binaries and copy each into its slot's store."""
    cdef int i, status, g = p.group
    cdef const char* data
    cdef size_t size
    cdef long long index
    cdef TextStore* st
    cdef TextEntry* e
    if g == G_BIN:
        status = (<f3_get_binary_t>u.slave.fn.get[T_BINARY])(
            u.slave.component, p.vr, p.n, p.lengths, <const unsigned char**>p.scratch, p.n)
    else:
        status = slave_get(&u.slave, p.type, p.vr, p.n, p.scratch, p.n)
    if status > STATUS_WARNING:
        return status
    for i in range(p.n):
        data = (<const char**>p.scratch)[i]
        if g == G_BIN:
            size = p.lengths[i]
            if data == NULL and size:
                return STATUS_ERROR          # never trust a pointer an FMU hands back
        else:
            size = strlen(data) if data != NULL else 0
        st = store_of(m, g, p.slot[i])
        # unchanged since the point before, as a rule: no hashing then
        index = index_at(m.rd, g, p.slot[i])[0]
        e = text_entry(st, index)
        if size == 0:
            index = 0                       # the empty value
        elif e.size != size or memcmp(e.data, data, size) != 0:
            index = text_index(st, data, size)
            if index < 0:
                return STATUS_ERROR
        index_at(m.wr, g, p.slot[i])[0] = index
    return status
