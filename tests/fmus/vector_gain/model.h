#ifndef MODEL_H
#define MODEL_H
typedef struct {
    double integral[3];
} ModelState;
#endif
