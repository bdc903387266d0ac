/* The sampler keeps everything in its variables. */
typedef struct {
    char unused;
} ModelState;
