/* When each clock last ticked, so that a repeated update in one event
 * does not count a tick twice. */
typedef struct {
    double tick_at;
    double trigger_at;
} ModelState;
