/* The gain has no internal state. */
typedef struct {
    char unused;
} ModelState;
