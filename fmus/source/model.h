/* The source is a function of time only. */
typedef struct {
    char unused;
} ModelState;
