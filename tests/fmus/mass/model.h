#ifndef MODEL_H
#define MODEL_H
typedef struct {
    double x, v;
    double step_start;    /* start of the last step: where the input's hold began */
} ModelState;
#endif
