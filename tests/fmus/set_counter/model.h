typedef struct {
    double x;
    double substep;   /* the solver's next substep; 0 after a restart */
    int32_t sets[4];  /* sets of u, n, flag, w */
} ModelState;
