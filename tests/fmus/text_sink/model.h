typedef struct {
    int32_t sets;
} ModelState;
