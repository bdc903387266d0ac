/* The floor of isolated components: N worker processes, each answering one
 * request per step over the channel cosim's proxy and worker use
 * (cosim/isolation/channel.h), with a payload the size of a gain's step
 * (an input value and the step in, an output value back) and nothing else.
 *
 * Usage: isolation_pingpong N STEPS SPIN_US   (prints microseconds per step) */
#include "channel.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

static void serve(ChHeader *ch) {
    uint32_t served = 0;
    for (;;) {
        while (ch_wait(&ch->req, served + 1, &ch->worker_sleeps, ch->spin_ns, 1000000000ull)) {}
        double in[3];
        memcpy(in, ch_data(ch), sizeof in);
        double out = 2.0 * in[0] + in[1] * 0.0;
        if (in[2] < 0) _exit(0);
        memcpy(ch_data(ch), &out, sizeof out);
        ch->length = sizeof out;
        served++;
        ch_post(&ch->rep, served, &ch->proxy_sleeps);
    }
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 1;
    long steps = argc > 2 ? atol(argv[2]) : 100000;
    double spin_us = argc > 3 ? atof(argv[3]) : 50.0;
    ChHeader **ch = calloc(n, sizeof *ch);
    pid_t *pid = calloc(n, sizeof *pid);
    for (int k = 0; k < n; k++) {
        int fd = memfd_create("pingpong", 0);
        if (fd < 0 || ftruncate(fd, CH_INITIAL_SIZE) != 0) { perror("memfd"); return 1; }
        ch[k] = ch_map(fd, CH_INITIAL_SIZE, NULL, 0);
        ch[k]->spin_ns = (uint32_t)(spin_us * 1000);
        atomic_store(&ch[k]->size, CH_INITIAL_SIZE);
        pid[k] = fork();
        if (pid[k] == 0) serve(ch[k]);
    }
    double value = 1.0;
    uint64_t started = 0;
    long warmup = steps / 10;
    for (long s = -warmup; s < steps; s++) {
        if (s == 0) started = ch_now_ns();
        for (int k = 0; k < n; k++) {
            double in[3] = {value, 0.001, 1.0};
            memcpy(ch_data(ch[k]), in, sizeof in);
            ch[k]->length = sizeof in;
            uint32_t seq = (uint32_t)(s + warmup + 1);
            ch_post(&ch[k]->req, seq, &ch[k]->worker_sleeps);
            while (ch_wait(&ch[k]->rep, seq, &ch[k]->proxy_sleeps, ch[k]->spin_ns, 1000000000ull)) {}
            memcpy(&value, ch_data(ch[k]), sizeof value);
            if (value > 1e6) value = 1.0;
        }
    }
    double per_step = (ch_now_ns() - started) / 1e3 / steps;
    for (int k = 0; k < n; k++) kill(pid[k], SIGKILL), waitpid(pid[k], NULL, 0);
    printf("%.3f\n", per_step);
    return 0;
}
