/* Context for the parallel-Jacobi figures: what a second thread gives a plain
 * C OpenMP loop on this machine, with the shape of a parallel Jacobi step:
 * ITEMS independent work items in one parallel loop, then a second parallel
 * loop that copies one value per item (cosim steps, then gets outputs).
 *
 *     omp_context ITEMS WORK STEPS THREADS
 *
 * WORK is the number of iterations of a dependent multiply-add chain per item
 * and step.  Prints one JSON line like the benchmark runners (run_s for the
 * whole loop).
 */
#define _POSIX_C_SOURCE 200809L
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: omp_context ITEMS WORK STEPS THREADS\n");
        return 1;
    }
    int items = atoi(argv[1]), threads = atoi(argv[4]);
    long work = atol(argv[2]), steps = atol(argv[3]);
    double *state = calloc(items, sizeof(double)), *out = calloc(items, sizeof(double));
    for (int i = 0; i < items; i++) state[i] = 1.0 + i * 1e-3;
    double started = now();
    for (long n = 0; n < steps; n++) {
#pragma omp parallel for num_threads(threads) schedule(static)
        for (int i = 0; i < items; i++) {
            double x = state[i] + 1e-9 * out[i];
            for (long k = 0; k < work; k++) x = x * 0.999999 + 1e-6;
            state[i] = x;
        }
#pragma omp parallel for num_threads(threads) schedule(static)
        for (int i = 0; i < items; i++) out[i] = state[i];
    }
    double done = now();
    double sum = 0;
    for (int i = 0; i < items; i++) sum += out[i];
    printf("{\"runner\": \"omp-context\", \"setup_s\": 0.0, \"run_s\": %.9f, \"steps\": %ld, "
           "\"components\": %d, \"final\": [%.17g], \"threads\": %d}\n",
           done - started, steps, items, sum, threads);
    free(state);
    free(out);
    return 0;
}
