// adk/adk.hpp — the agent layer: ADK's model (agents as async generators of
// events, a runner persisting them in sessions) on aio.
#pragma once

#include "adk/agent.hpp"
#include "adk/agent_tool.hpp"
#include "adk/artifacts.hpp"
#include "adk/callbacks.hpp"
#include "adk/content.hpp"
#include "adk/context.hpp"
#include "adk/event.hpp"
#include "adk/event_list.hpp"
#include "adk/llm.hpp"
#include "adk/llm_agent.hpp"
#include "adk/llm_response.hpp"
#include "adk/long_running_tool.hpp"
#include "adk/runner.hpp"
#include "adk/schema.hpp"
#include "adk/scripted_llm.hpp"
#include "adk/session.hpp"
#include "adk/state.hpp"
#include "adk/tool.hpp"
#include "adk/toolset.hpp"
#include "adk/workflow_agents.hpp"
