#ifndef MODEL_H
#define MODEL_H
typedef struct {
    double x, v;
} ModelState;
#endif
