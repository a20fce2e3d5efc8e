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
        }
    }
};

}  // namespace

void* pool_refill(std::size_t size_class) {
    if (!tls_pool.registered) {
        tls_pool.registered = true;
        static thread_local ThreadExitHook hook;
        (void)hook;
    }
    Depot& d = depot();
    std::lock_guard lock(d.mutex);
    void*& head = tls_pool.heads[size_class];
    if (void* shared = d.heads[size_class]) {
        d.heads[size_class] = nullptr;
        head = shared;
    } else {
        const std::size_t block = size_class * kPoolGranule;
        char* chunk = static_cast<char*>(::operator new(kChunkBytes));
        d.chunks.push_back(chunk);
        const std::size_t count = kChunkBytes / block;
        for (std::size_t i = count; i-- > 0;) {
            void* b = chunk + i * block;
            *static_cast<void**>(b) = head;
            head = b;
        }
    }
    void* result = head;
    head = *static_cast<void**>(result);
    return result;
}

}  // namespace aio::detail
