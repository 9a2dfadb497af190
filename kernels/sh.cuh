// Real spherical harmonics to degree 4 of a unit direction, as src/compute/cpu/sh.rs.
#pragma once
#include "common.cuh"

#define SH_COEFFS 16

DEVICE void sh_encode(const float* d, float* out) {
    float x = d[0], y = d[1], z = d[2];
    float xx = x * x, yy = y * y, zz = z * z;
    out[0] = 0.2820948f;
    out[1] = -0.4886025f * y;
    out[2] = 0.4886025f * z;
    out[3] = -0.4886025f * x;
    out[4] = 1.0925484f * x * y;
    out[5] = -1.0925484f * y * z;
    out[6] = 0.31539157f * (3.0f * zz - 1.0f);
    out[7] = -1.0925484f * x * z;
    out[8] = 0.5462742f * (xx - yy);
    out[9] = -0.5900436f * y * (3.0f * xx - yy);
    out[10] = 2.8906114f * x * y * z;
    out[11] = -0.4570458f * y * (5.0f * zz - 1.0f);
    out[12] = 0.37317633f * z * (5.0f * zz - 3.0f);
    out[13] = -0.4570458f * x * (5.0f * zz - 1.0f);
    out[14] = 1.4453057f * z * (xx - yy);
    out[15] = -0.5900436f * x * (xx - 3.0f * yy);
}

// dL/dd from dL/d(encoding), the components treated as independent.
DEVICE void sh_backward(const float* d, const float* dout, float* g) {
    const float A = 0.4886025f, B = 1.0925484f, C = 0.31539157f, D = 0.5462742f, E = 0.5900436f,
                F = 2.8906114f, G = 0.4570458f, H = 0.37317633f, I = 1.4453057f;
    float x = d[0], y = d[1], z = d[2];
    float xx = x * x, yy = y * y, zz = z * z;
    float jac[15][3] = {
        {0.0f, -A, 0.0f},
        {0.0f, 0.0f, A},
        {-A, 0.0f, 0.0f},
        {B * y, B * x, 0.0f},
        {0.0f, -B * z, -B * y},
        {0.0f, 0.0f, 6.0f * C * z},
        {-B * z, 0.0f, -B * x},
        {2.0f * D * x, -2.0f * D * y, 0.0f},
        {-6.0f * E * x * y, -3.0f * E * (xx - yy), 0.0f},
        {F * y * z, F * x * z, F * x * y},
        {0.0f, -G * (5.0f * zz - 1.0f), -10.0f * G * y * z},
        {0.0f, 0.0f, H * (15.0f * zz - 3.0f)},
        {-G * (5.0f * zz - 1.0f), 0.0f, -10.0f * G * x * z},
        {2.0f * I * x * z, -2.0f * I * y * z, I * (xx - yy)},
        {-3.0f * E * (xx - yy), 6.0f * E * x * y, 0.0f},
    };
    g[0] = g[1] = g[2] = 0.0f;
    for (int k = 0; k < 15; ++k)
        for (int a = 0; a < 3; ++a) g[a] += jac[k][a] * dout[k + 1];
}
