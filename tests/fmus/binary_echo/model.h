typedef struct {
    int32_t steps;
    int32_t sets;
} ModelState;
