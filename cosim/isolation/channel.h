/* The channel between an isolated FMU's proxy (in the simulating process) and
 * its worker process: one shared memory region (a memfd the worker inherits)
 * holding a header, a ring of the FMU's last log messages and a data area.
 *
 * One request at a time: the proxy writes its records into the data area and
 * bumps `req`; the worker runs them, writes its reply records over the data
 * area and sets `rep` to the same number.  Each side spins briefly, then
 * sleeps on a futex; a side only issues a wake-up system call when the
 * other has said it sleeps, so a step answered within the spin costs no
 * system call at all.
 *
 * Either side may grow the region (ftruncate of the shared memfd) before
 * writing a message larger than the data area; `size` says how big it is
 * and the reader remaps before reading. */
#ifndef COSIM_CHANNEL_H
#define COSIM_CHANNEL_H

#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define CH_LOG_SLOTS 32
#define CH_LOG_TEXT 472
#define CH_DATA_OFFSET 32768          /* header and log ring fit below this */
#define CH_INITIAL_SIZE (CH_DATA_OFFSET + 65536)

typedef struct {
    int32_t status;
    char category[36];
    char text[CH_LOG_TEXT];
} ChLog;

typedef struct {
    _Atomic uint32_t req;              /* requests sent */
    _Atomic uint32_t rep;              /* requests answered */
    _Atomic uint32_t proxy_sleeps;     /* the proxy waits in futex on rep */
    _Atomic uint32_t worker_sleeps;    /* the worker waits in futex on req */
    _Atomic uint64_t size;             /* bytes of the region */
    uint64_t length;                   /* bytes of the message in the data area */
    _Atomic uint32_t log_count;        /* messages ever written into the ring */
    uint32_t spin_ns;                  /* how long each side spins before sleeping */
    ChLog log[CH_LOG_SLOTS];
} ChHeader;

_Static_assert(sizeof(ChHeader) <= CH_DATA_OFFSET, "channel header too large");

static inline unsigned char *ch_data(ChHeader *h) { return (unsigned char *)h + CH_DATA_OFFSET; }
static inline uint64_t ch_capacity(uint64_t size) { return size - CH_DATA_OFFSET; }

static inline long ch_futex(_Atomic uint32_t *word, int op, uint32_t value,
                            const struct timespec *timeout) {
    /* Not FUTEX_PRIVATE: the word lives in memory shared by two processes. */
    return syscall(SYS_futex, (uint32_t *)word, op, value, timeout, NULL, 0);
}

static inline uint64_t ch_now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static inline void ch_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* Publish `value` in `word` and wake the other side if it sleeps on it. */
static inline void ch_post(_Atomic uint32_t *word, uint32_t value, _Atomic uint32_t *sleeps) {
    atomic_store(word, value);
    if (atomic_load(sleeps))
        ch_futex(word, FUTEX_WAKE, 1, NULL);
}

/* Wait until `word` equals `value`: spin for spin_ns, then sleep in slices of
 * at most slice_ns.  Returns 0 once it does, 1 when a slice passed without it
 * (the caller checks on the other side and calls again). */
static inline int ch_wait(_Atomic uint32_t *word, uint32_t value, _Atomic uint32_t *sleeps,
                          uint32_t spin_ns, uint64_t slice_ns) {
    uint32_t seen = atomic_load_explicit(word, memory_order_acquire);
    if (seen == value)
        return 0;
    if (spin_ns) {
        uint64_t until = ch_now_ns() + spin_ns;
        for (;;) {
            for (int i = 0; i < 64; i++) {
                ch_relax();
                if (atomic_load_explicit(word, memory_order_acquire) == value)
                    return 0;
            }
            if (ch_now_ns() >= until)
                break;
        }
    }
    atomic_store(sleeps, 1);
    seen = atomic_load(word);
    if (seen != value) {
        struct timespec t = {(time_t)(slice_ns / 1000000000ull), (long)(slice_ns % 1000000000ull)};
        ch_futex(word, FUTEX_WAIT, seen, &t);
    }
    atomic_store(sleeps, 0);
    return atomic_load(word) == value ? 0 : 1;
}

/* Map `size` bytes of `fd` (replacing `old` of `old_size` bytes if given). */
static inline ChHeader *ch_map(int fd, uint64_t size, ChHeader *old, uint64_t old_size) {
    if (old)
        munmap(old, old_size);
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    return p == MAP_FAILED ? NULL : (ChHeader *)p;
}

/* Make the data area hold at least `need` bytes; the region only grows. */
static inline int ch_reserve(int fd, ChHeader **h, uint64_t *mapped, uint64_t need) {
    uint64_t size = atomic_load(&(*h)->size);
    if (size > *mapped) {                 /* the other side grew it */
        ChHeader *m = ch_map(fd, size, *h, *mapped);
        if (!m) { *h = NULL; return -1; }
        *h = m;
        *mapped = size;
    }
    if (ch_capacity(*mapped) >= need)
        return 0;
    uint64_t grown = *mapped;
    while (ch_capacity(grown) < need)
        grown *= 2;
    if (ftruncate(fd, (off_t)grown) != 0)
        return -1;
    ChHeader *m = ch_map(fd, grown, *h, *mapped);
    if (!m) { *h = NULL; return -1; }
    *h = m;
    *mapped = grown;
    atomic_store(&m->size, grown);
    return 0;
}

/* Remap if the other side grew the region. */
static inline int ch_follow(int fd, ChHeader **h, uint64_t *mapped) {
    return ch_reserve(fd, h, mapped, 0);
}

/* Request records: op, length of the payload that follows (padded to 8). */
typedef struct {
    uint32_t op;
    uint32_t length;
} ChRecord;

/* Reply records: op echoed, FMI status, length of the payload. */
typedef struct {
    uint32_t op;
    int32_t status;
    uint32_t length;
    uint32_t pad;
} ChReply;

enum {
    OP_INSTANTIATE = 1,
    OP_FREE,
    OP_SETUP_EXPERIMENT,        /* FMI 2 */
    OP_ENTER_INIT,              /* FMI 2: no payload; FMI 3: tolerance and times */
    OP_EXIT_INIT,
    OP_TERMINATE,
    OP_RESET,
    OP_DO_STEP,
    OP_GET,
    OP_SET,
    OP_REAL_STATUS,             /* FMI 2 fmi2GetRealStatus, FMI 1 fmiGetRealStatus */
    OP_BOOLEAN_STATUS,          /* FMI 2 */
    OP_GET_STATE,
    OP_SET_STATE,
    OP_FREE_STATE,
    OP_STATE_SIZE,
    OP_SERIALIZE,
    OP_DESERIALIZE,
    OP_DEBUG_LOGGING,
    OP_INPUT_DERIVATIVES,       /* FMI 2 */
    OP_OUTPUT_DERIVATIVES,
    OP_ENTER_EVENT_MODE,        /* FMI 3 */
    OP_ENTER_STEP_MODE,
    OP_UPDATE_DISCRETE_STATES,
    OP_GET_CLOCK,
    OP_SET_CLOCK,
    OP_GET_INTERVAL,
    OP_GET_SHIFT,
    OP_ENTER_CONFIGURATION,
    OP_EXIT_CONFIGURATION,
    OP_INITIALIZE,              /* FMI 1 fmiInitializeSlave */
};

/* Value types, as cosim numbers them (cosim.fmi._binding T_*). */
enum {
    VT_FLOAT64, VT_FLOAT32, VT_INT8, VT_UINT8, VT_INT16, VT_UINT16, VT_INT32, VT_UINT32,
    VT_INT64, VT_UINT64, VT_BOOL, VT_STRING, VT_BINARY, VT_COUNT
};

/* Bytes of one value of type `vt` in FMI `version` (0 for strings and binaries). */
static inline size_t ch_value_size(int version, int vt) {
    static const size_t sizes[VT_COUNT] = {8, 4, 1, 1, 2, 2, 4, 4, 8, 8, 1, 0, 0};
    if (vt == VT_BOOL)
        return version == 3 ? 1 : (version == 2 ? 4 : 1);   /* fmi2Boolean is int, fmi1Boolean char */
    return sizes[vt];
}

static inline size_t ch_pad8(size_t n) { return (n + 7) & ~(size_t)7; }

#endif
