/* When the clock last ticked (a repeated update in one event counts once). */
typedef struct {
    double tick_at;
} ModelState;
