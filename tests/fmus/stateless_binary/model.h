typedef struct {
    double x;
} ModelState;
