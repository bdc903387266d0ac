/* Furnace state: per zone the zone temperature, the temperature of the parts
 * resident in it and the burner controller integral; plus burner energy. */
#define N_ZONES 3
enum { X_ZONE = 0, X_PART = N_ZONES, X_INTEGRAL = 2 * N_ZONES, X_ENERGY = 3 * N_ZONES, N_STATES };

typedef struct {
    double x[N_STATES];
} ModelState;
