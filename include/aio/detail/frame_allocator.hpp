// aio/detail/frame_allocator.hpp — recycled memory for coroutine frames and
// the small objects of the loop's hot paths (task states, futures, handles).
//
// Compilers do not reliably elide coroutine frame allocations (GCC never
// does), so every aio coroutine frame comes from here: a per-thread free list
// per 16-byte size class, refilled from 64 KiB chunks. A block freed on
// another thread joins that thread's list; a list that grows past a bound,
// and the lists of an exiting thread, go to a shared depot that threads
// refill from. Chunks are kept for the life
// of the process: memory reached at peak is reused, not returned.
//
// Under AddressSanitizer the pool is bypassed so that ASan sees every frame's
// lifetime and reports a use after free.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>

#if defined(__SANITIZE_ADDRESS__)
#define AIO_FRAME_POOL 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define AIO_FRAME_POOL 0
#endif
#endif
#ifndef AIO_FRAME_POOL
#define AIO_FRAME_POOL 1
#endif

namespace aio::detail {

inline constexpr std::size_t kPoolGranule = 16;
inline constexpr std::size_t kPoolMaxBlock = 4096;  // agent-layer frames (LlmAgent::run_impl...) are 1-3 KiB
inline constexpr std::size_t kPoolClasses = kPoolMaxBlock / kPoolGranule + 1;

// A thread keeps at most this many free blocks per class; beyond that, freed
// blocks go to the shared depot. Without the bound a thread that only frees
// blocks allocated elsewhere (a loop receiving call_soon_threadsafe
// callbacks) would hoard them while the allocating thread carves new ones.
inline constexpr std::uint32_t kPoolLocalLimit = 1u << 16;

struct PoolFreeLists {
    void* heads[kPoolClasses];
    std::uint32_t counts[kPoolClasses];
    bool registered;  // this thread's exit hook is installed
};

// constinit: zero-initialised, no TLS init guard on the fast path.
inline thread_local constinit PoolFreeLists tls_pool{};

void* pool_refill(std::size_t size_class);
void pool_spill(std::size_t size_class) noexcept;

inline std::size_t pool_class(std::size_t size) noexcept {
    return (size + kPoolGranule - 1) / kPoolGranule;
}

inline void* pool_allocate(std::size_t size) {
#if AIO_FRAME_POOL
    if (size <= kPoolMaxBlock) {
        std::size_t c = pool_class(size);
        if (void* block = tls_pool.heads[c]) {
            tls_pool.heads[c] = *static_cast<void**>(block);
            --tls_pool.counts[c];
            return block;
        }
        return pool_refill(c);
    }
#endif
    return ::operator new(size);
}

inline void pool_deallocate(void* block, std::size_t size) noexcept {
#if AIO_FRAME_POOL
    if (size <= kPoolMaxBlock) {
        std::size_t c = pool_class(size);
        *static_cast<void**>(block) = tls_pool.heads[c];
        tls_pool.heads[c] = block;
        if (++tls_pool.counts[c] > kPoolLocalLimit || !tls_pool.registered) [[unlikely]]
            pool_spill(c);
        return;
    }
#endif
    (void)size;
    ::operator delete(block);
}

/// Base for objects allocated from the pool with sized delete.
struct PoolAllocated {
    static void* operator new(std::size_t size) { return pool_allocate(size); }
    static void operator delete(void* block, std::size_t size) noexcept { pool_deallocate(block, size); }
};

}  // namespace aio::detail
