/* Steps taken so far. */
typedef struct {
    int32_t steps;
} ModelState;
