typedef struct {
    char unused;
} ModelState;
