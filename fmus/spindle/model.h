/* Spindle state: rotor speed, controller integral, bearing temperature and
 * bearing damage. */
enum { X_OMEGA, X_INTEGRAL, X_TEMPERATURE, X_WEAR, N_STATES };

typedef struct {
    double x[N_STATES];
} ModelState;
