/* Spindle state: rotor speed, controller integral, bearing temperature and
 * bearing damage, and the last damage reset applied. */
enum { X_OMEGA, X_INTEGRAL, X_TEMPERATURE, X_WEAR, N_STATES };

typedef struct {
    double x[N_STATES];
    double applied_wear_reset;  /* the wear_reset value last applied (-1: none) */
} ModelState;
