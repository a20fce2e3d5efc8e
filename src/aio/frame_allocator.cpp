#include "aio/detail/frame_allocator.hpp"

#include <mutex>
#include <vector>

namespace aio::detail {
namespace {

constexpr std::size_t kChunkBytes = 64 * 1024;

// Process-wide: every chunk ever carved (kept reachable for the life of the
// process) and the free lists that exiting threads left behind.
struct Depot {
    std::mutex mutex;
    std::vector<void*> chunks;
    void* heads[kPoolClasses] = {};
};

// Never destroyed: frames may still be freed by static destructors and by
// threads that outlive main().
Depot& depot() {
    static Depot* instance = new Depot;
    return *instance;
}

// Appends list `from` to the front of list `into`.
void splice(void*& into, void* from) {
    if (!from) return;
    void* tail = from;
    while (void* next = *static_cast<void**>(tail)) tail = next;
    *static_cast<void**>(tail) = into;
    into = from;
}

struct ThreadExitHook {
    ~ThreadExitHook() {
        Depot& d = depot();
        std::lock_guard lock(d.mutex);
        for (std::size_t c = 0; c < kPoolClasses; ++c) {
            splice(d.heads[c], tls_pool.heads[c]);
            tls_pool.heads[c] = nullptr;
            tls_pool.counts[c] = 0;
        }
    }
};

void install_exit_hook() {
    if (!tls_pool.registered) {
        tls_pool.registered = true;
        static thread_local ThreadExitHook hook;
        (void)hook;
    }
}

}  // namespace

void pool_spill(std::size_t size_class) noexcept {
    try {
        install_exit_hook();  // a thread that only frees still returns its blocks
    } catch (...) {
    }
    if (tls_pool.counts[size_class] <= kPoolLocalLimit) return;
    // Keep half; the depot takes the rest in one splice.
    void*& head = tls_pool.heads[size_class];
    std::uint32_t keep = kPoolLocalLimit / 2;
    void* last_kept = head;
    for (std::uint32_t i = 1; i < keep; ++i) last_kept = *static_cast<void**>(last_kept);
    void* spilled = *static_cast<void**>(last_kept);
    *static_cast<void**>(last_kept) = nullptr;
    tls_pool.counts[size_class] = keep;
    Depot& d = depot();
    std::lock_guard lock(d.mutex);
    splice(d.heads[size_class], spilled);
}

void* pool_refill(std::size_t size_class) {
    install_exit_hook();
    Depot& d = depot();
    std::lock_guard lock(d.mutex);
    void*& head = tls_pool.heads[size_class];
    std::uint32_t& count = tls_pool.counts[size_class];
    if (void* shared = d.heads[size_class]) {
        // Take at most the local limit; leave the rest for other threads.
        d.heads[size_class] = nullptr;
        void* tail = shared;
        std::uint32_t taken = 1;
        while (taken < kPoolLocalLimit / 2 && *static_cast<void**>(tail)) {
            tail = *static_cast<void**>(tail);
            ++taken;
        }
        d.heads[size_class] = *static_cast<void**>(tail);
        *static_cast<void**>(tail) = nullptr;
        head = shared;
        count = taken;
    } else {
        const std::size_t block = size_class * kPoolGranule;
        char* chunk = static_cast<char*>(::operator new(kChunkBytes));
        d.chunks.push_back(chunk);
        const std::size_t n = kChunkBytes / block;
        for (std::size_t i = n; i-- > 0;) {
            void* b = chunk + i * block;
            *static_cast<void**>(b) = head;
            head = b;
        }
        count = static_cast<std::uint32_t>(n);
    }
    void* result = head;
    head = *static_cast<void**>(result);
    --count;
    return result;
}

}  // namespace aio::detail
