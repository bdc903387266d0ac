typedef struct {
    int32_t steps;
} ModelState;
