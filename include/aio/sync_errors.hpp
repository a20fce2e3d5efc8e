// aio/sync_errors.hpp — the exceptions of the synchronization primitives and
// queues: asyncio.QueueEmpty, QueueFull, QueueShutDown and BrokenBarrierError.
//
// Like every aio error except CancelledError they derive from std::exception
// (through std::runtime_error). Misuse that asyncio reports with ValueError
// (a BoundedSemaphore released too often, task_done() called too many times,
// a negative Semaphore value, a Barrier of no parties) raises
// std::invalid_argument; misuse asyncio reports with RuntimeError (releasing
// an unlocked Lock, waiting on a Condition without holding its lock, use from
// another loop or thread) raises aio::RuntimeError.
#pragma once

#include <stdexcept>
#include <string>

namespace aio {

/// get_nowait() on an empty queue.
class QueueEmpty : public std::runtime_error {
public:
    QueueEmpty() : std::runtime_error("QueueEmpty") {}
    explicit QueueEmpty(const std::string& what) : std::runtime_error(what) {}
};

/// put_nowait() on a full queue.
class QueueFull : public std::runtime_error {
public:
    QueueFull() : std::runtime_error("QueueFull") {}
    explicit QueueFull(const std::string& what) : std::runtime_error(what) {}
};

/// put() or get() on a queue that was shut down (Python 3.13's
/// Queue.shutdown()): puts always raise, gets once the queue is empty.
class QueueShutDown : public std::runtime_error {
public:
    QueueShutDown() : std::runtime_error("QueueShutDown") {}
    explicit QueueShutDown(const std::string& what) : std::runtime_error(what) {}
};

/// A Barrier was aborted, or reset while the task waited at it.
class BrokenBarrierError : public std::runtime_error {
public:
    BrokenBarrierError() : std::runtime_error("BrokenBarrierError") {}
    explicit BrokenBarrierError(const std::string& what) : std::runtime_error(what) {}
};

}  // namespace aio
