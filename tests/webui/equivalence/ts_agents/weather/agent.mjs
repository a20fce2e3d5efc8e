// ADK-TS twin of cpp_agents/weather/root_agent.yaml.
import {LlmAgent} from '@google/adk';
import {scriptedModel} from '../../scripted_llm.mjs';
import {getWeather} from '../../tools.mjs';

export const rootAgent = new LlmAgent({
  name: 'weather',
  model: scriptedModel,
  description: 'Answers weather questions.',
  instruction: 'You help {user_name} with the weather. Use get_weather.',
  outputKey: 'last_answer',
  tools: [getWeather],
});
