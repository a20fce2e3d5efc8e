// ADK-TS twin of cpp_agents/pipeline/root_agent.yaml (+ drafter.yaml,
// reviewer.yaml): a SequentialAgent whose steps pass state via outputKey.
import {LlmAgent, SequentialAgent} from '@google/adk';
import {scriptedModel} from '../../scripted_llm.mjs';

const drafter = new LlmAgent({
  name: 'drafter',
  model: scriptedModel,
  description: 'Writes a draft.',
  instruction: 'Write a short draft for {user_name}.',
  outputKey: 'draft',
});

const reviewer = new LlmAgent({
  name: 'reviewer',
  model: scriptedModel,
  description: 'Reviews the draft.',
  instruction: 'Review this draft: {draft}',
  outputKey: 'review',
});

export const rootAgent = new SequentialAgent({
  name: 'pipeline',
  description: 'Drafts, then reviews.',
  subAgents: [drafter, reviewer],
});
