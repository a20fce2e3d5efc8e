// ADK-TS twin of cpp_agents/desk/root_agent.yaml (+ helper.yaml): a transfer
// to a sub-agent.
import {LlmAgent} from '@google/adk';
import {scriptedModel} from '../../scripted_llm.mjs';

const helper = new LlmAgent({
  name: 'helper',
  model: scriptedModel,
  description: 'Helps with anything.',
  instruction: 'Help the user.',
});

export const rootAgent = new LlmAgent({
  name: 'desk',
  model: scriptedModel,
  description: 'The front desk.',
  instruction: 'Route questions to the right agent.',
  subAgents: [helper],
});
