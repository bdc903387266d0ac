/* Discrete state of the ball: whether it rests on the floor. */
typedef struct {
    bool resting;
} ModelState;
