#ifndef MODEL_H
#define MODEL_H
typedef struct {
    int unused;
} ModelState;
#endif
