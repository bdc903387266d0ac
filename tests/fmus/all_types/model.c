/* Every FMI 3 type through: y_T = u_T, and n_T = u_T with the step count
 * added, so that the outputs change from step to step.  Integers wrap in their
 * own width (computed unsigned, as C defines wrapping only there). */
#include <stdio.h>
#include <string.h>

#include "cosim_model.h"

int model_check(const ModelData *m, char *msg, size_t len) {
    (void)m, (void)msg, (void)len;
    return 0;
}

void model_initialize(ModelData *m) { m->st.steps = 0; }

void model_outputs(ModelData *m) {
    uint32_t n = m->st.steps;
    R(y_f64) = R(u_f64);
    R(n_f64) = R(u_f64) + n;
    F32(y_f32) = F32(u_f32);
    F32(n_f32) = F32(u_f32) + (float)n;
    I8(y_i8) = I8(u_i8);
    I8(n_i8) = (int8_t)(uint8_t)((uint8_t)I8(u_i8) + n);
    U8(y_u8) = U8(u_u8);
    U8(n_u8) = (uint8_t)(U8(u_u8) + n);
    I16(y_i16) = I16(u_i16);
    I16(n_i16) = (int16_t)(uint16_t)((uint16_t)I16(u_i16) + n);
    U16(y_u16) = U16(u_u16);
    U16(n_u16) = (uint16_t)(U16(u_u16) + n);
    I(y_i32) = I(u_i32);
    I(n_i32) = (int32_t)((uint32_t)I(u_i32) + n);
    U32(y_u32) = U32(u_u32);
    U32(n_u32) = U32(u_u32) + n;
    I64(y_i64) = I64(u_i64);
    I64(n_i64) = (int64_t)((uint64_t)I64(u_i64) + n);
    U64(y_u64) = U64(u_u64);
    U64(n_u64) = U64(u_u64) + n;
    B(y_bool) = B(u_bool);
    B(n_bool) = (n % 2) ? !B(u_bool) : B(u_bool);
    strcpy(m->s[S_y_str], m->s[S_u_str]);
    snprintf(m->s[S_n_str], STRING_CAPACITY, "%.*s%u", STRING_CAPACITY - 12, m->s[S_u_str], n);
    memcpy(Y(y_bin), Y(u_bin), YSIZE(u_bin));
    YSIZE(y_bin) = YSIZE(u_bin);
    size_t size = YSIZE(u_bin) < BINARY_CAPACITY ? YSIZE(u_bin) : BINARY_CAPACITY - 1;
    memcpy(Y(n_bin), Y(u_bin), size);
    Y(n_bin)[size] = (uint8_t)n;
    YSIZE(n_bin) = size + 1;
}

int model_step(ModelData *m, double h, char *msg, size_t len) {
    (void)h, (void)msg, (void)len;
    m->st.steps++;
    return 0;
}
