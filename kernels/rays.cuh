// A batch's rays as the batch kernels (trace.cu) take them and what they give back per ray.
#pragma once

struct RayIn {
    float origin[3];
    float dir[3];
    float jitter;
    float rgb[3];
    float mask;   // negative: no mask
    float depth;  // stereo depth along the ray; 0: none
};

struct RayOut {
    float rgb[3];
    float opacity, depth, loss, samples;
    float d_origin[3];
    float d_dir[3];
};
