// Launch support for the host build of the kernels: Rust sets the thread index, then calls
// the kernel function once per thread; or runs a block-cooperative kernel's block as threads.
#include "shim.h"

#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

thread_local int weave_shim_thread = 0;
thread_local int weave_shim_block = 0;
thread_local int weave_shim_lane = 0;

extern "C" void weave_shim_set_thread(int i) { weave_shim_thread = i; }

namespace {

// A block's shared memory and barrier.
struct Block {
    std::mutex m;
    std::condition_variable cv;
    int threads = 0, waiting = 0;
    unsigned generation = 0;
    std::vector<double> shared = std::vector<double>(64 * 1024 / sizeof(double));
};

thread_local Block* current = nullptr;
thread_local unsigned shared_used = 0;
std::mutex atomic_lock;

}  // namespace

float weave_shim_atomic_add(float* p, float v) {
    std::lock_guard<std::mutex> g(atomic_lock);
    float old = *p;
    *p = old + v;
    return old;
}

void weave_shim_sync() {
    Block& b = *current;
    std::unique_lock<std::mutex> l(b.m);
    unsigned gen = b.generation;
    if (++b.waiting == b.threads) {
        b.waiting = 0;
        ++b.generation;
        b.cv.notify_all();
    } else {
        b.cv.wait(l, [&] { return b.generation != gen; });
    }
}

// Every thread of the block declares the same arrays in the same order, so each gets the same
// addresses.
void* weave_shim_shared(unsigned bytes) {
    char* base = reinterpret_cast<char*>(current->shared.data());
    void* p = base + shared_used;
    shared_used += (bytes + 15) / 16 * 16;
    if (shared_used > current->shared.size() * sizeof(double)) std::terminate();
    return p;
}

// Runs block `block` of `threads` threads, each calling body(ctx).
extern "C" void weave_shim_run_block(int block, int threads, void (*body)(void*), void* ctx) {
    Block b;
    b.threads = threads;
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t)
        pool.emplace_back([&b, block, threads, t, body, ctx] {
            weave_shim_block = block;
            weave_shim_lane = t;
            weave_shim_thread = block * threads + t;
            current = &b;
            shared_used = 0;
            body(ctx);
        });
    for (auto& th : pool) th.join();
}
