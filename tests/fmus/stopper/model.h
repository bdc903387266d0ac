/* The integral and the steps taken so far. */
typedef struct {
    double x;
    int32_t steps;
} ModelState;
