// Which cells of the normalised cube may hold surface (src/train/trainer.rs).
#include "common.cuh"
#include "field.cuh"

// cells[i] = 1 where the SDF at the cell's centre is within `reach` of zero; `occupied` counts
// them (the host reads that, not the grid, while training).
KERNEL void occupancy_update(FieldDesc f, Params p, int active, int res, float reach, unsigned char* cells,
                             int* occupied) {
    int i = thread_index();
    if (i >= res * res * res) return;
    int ijk[3] = {i % res, (i / res) % res, i / (res * res)};
    float x[3];
    for (int a = 0; a < 3; ++a) x[a] = ((float)ijk[a] + 0.5f) / (float)res * 2.0f - 1.0f;
    float out[1];
    cells[i] = fabsf(sdf_value(f, p, x, active, out)) < reach ? 1 : 0;
    if (cells[i]) atomicAdd(occupied, 1);
}
