/* Integral of the control error. */
typedef struct {
    double integral;
} ModelState;
