/* The two-mass oscillator's equations (tests/fmus/mass), built into a binary
 * that declares output derivatives but does not export the functions. */
#include "../mass/model.c"
