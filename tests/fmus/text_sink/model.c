/* Echoes a string input: its length, the sum of its bytes, a copy, and how
 * many times it was set (to see an importer set it only when it changes). */
#include <string.h>

#include "cosim_model.h"

int model_check(const ModelData *m, char *msg, size_t len) {
    (void)m, (void)msg, (void)len;
    return 0;
}

void model_initialize(ModelData *m) { (void)m; }

void model_input_set(ModelData *m, const VarInfo *v) {
    if (strcmp(v->name, "s") == 0) m->st.sets++;
}

void model_outputs(ModelData *m) {
    const unsigned char *s = (const unsigned char *)m->s[S_s];
    int32_t sum = 0;
    for (size_t i = 0; s[i]; i++) sum += s[i];
    I(length) = (int32_t)strlen(m->s[S_s]);
    I(checksum) = sum;
    strcpy(m->s[S_echo], m->s[S_s]);
    I(sets) = m->st.sets;
}

int model_step(ModelData *m, double h, char *msg, size_t len) {
    (void)m, (void)h, (void)msg, (void)len;
    return 0;
}
