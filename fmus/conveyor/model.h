/* Conveyor state.  The history maps belt travel to the cumulative count of
 * parts placed on the belt; the parts at the discharge are those placed when
 * the belt had travelled `length` less than now. */
#define HISTORY 4096          /* points; spacing length/HISTORY_SPACING keeps it from filling */
#define HISTORY_SPACING 2048

typedef struct {
    double speed;             /* m/s */
    double travel;            /* m the belt has moved since the start */
    double parts_in;          /* cumulative parts placed on the belt */
    double parts_out;         /* cumulative parts delivered */
    double parts_out_before;  /* parts_out at the start of the last step */
    double last_step;         /* s, length of the last step (0 before the first) */
    double initial_flow_out;  /* 1/s reported before the first step: the loaded belt's discharge */
    int head, count;          /* ring buffer of (position, cumulative count) */
    double position[HISTORY];
    double cumulative[HISTORY];
} ModelState;
