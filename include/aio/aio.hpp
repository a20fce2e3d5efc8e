// aio/aio.hpp — everything aio offers: asyncio's model in C++20.
#pragma once

#include "aio/async_comprehension.hpp"
#include "aio/async_generator.hpp"
#include "aio/call_graph.hpp"
#include "aio/context.hpp"
#include "aio/coro.hpp"
#include "aio/errors.hpp"
#include "aio/event_loop.hpp"
#include "aio/exit_stack.hpp"
#include "aio/future.hpp"
#include "aio/handle.hpp"
#include "aio/log.hpp"
#include "aio/merge.hpp"
#include "aio/run.hpp"
#include "aio/sleep.hpp"
#include "aio/task.hpp"
