/* The decay keeps everything in its variables. */
typedef struct {
    char unused;
} ModelState;
