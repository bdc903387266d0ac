/* The next level x is to reach. */
typedef struct {
    double next_level;
} ModelState;
