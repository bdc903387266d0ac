typedef struct {
    uint32_t steps;
} ModelState;
