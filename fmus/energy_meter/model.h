/* Energy integrated since the start. */
typedef struct {
    double energy;
} ModelState;
