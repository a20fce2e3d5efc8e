// The JavaScript twin of adk::ScriptedLlm (include/adk/scripted_llm.hpp) for
// ADK-TS: it reads the same script file (script.json, the one adk-server
// plays with --script) and answers the same requests with the same
// responses, so both servers see identical model output.
//
// Implemented: rules (whenAgent, whenUserSays, afterTool; snake_case keys
// too), the reply sequence, replies with text / functionCalls / chunks /
// errorCode+errorMessage / raise. Like ScriptedLlm::play: with streaming and
// chunks one partial response per chunk, then one aggregated response with
// turnComplete; otherwise just the aggregated response.
import {BaseLlm} from '@google/adk';
import {readFileSync} from 'node:fs';

const key = (o, camel, snake) => (o[camel] !== undefined ? o[camel] : o[snake]);

function systemText(req) {
  const si = req.config?.systemInstruction;
  if (!si) return '';
  if (typeof si === 'string') return si;
  const parts = Array.isArray(si) ? si : si.parts ?? [];
  return parts.map((p) => (typeof p === 'string' ? p : p.text ?? '')).join('');
}

/** adk::LlmRequest::last_user_text: the last content's text if it is the user's. */
function lastUserText(req) {
  const last = req.contents?.[req.contents.length - 1];
  if (!last || last.role !== 'user') return '';
  return (last.parts ?? []).map((p) => p.text ?? '').join('');
}

export class ScriptedLlm extends BaseLlm {
  constructor(script) {
    super({model: script.model ?? 'scripted'});
    this.replies = script.replies ?? [];
    this.rules = script.rules ?? [];
    this.next = 0;
    this.requests = [];
  }

  static fromFile(path) {
    return new ScriptedLlm(JSON.parse(readFileSync(path, 'utf8')));
  }

  async connect() { throw new Error('ScriptedLlm: no live mode'); }

  pick(req) {
    const userText = lastUserText(req);
    const system = systemText(req);
    for (const rule of this.rules) {
      const agent = key(rule, 'whenAgent', 'when_agent');
      const says = key(rule, 'whenUserSays', 'when_user_says');
      const tool = key(rule, 'afterTool', 'after_tool');
      if (agent !== undefined && !system.includes(`Your internal name is "${agent}"`)) continue;
      if (says !== undefined && (!userText || !userText.includes(says))) continue;
      if (tool !== undefined) {
        const last = req.contents?.[req.contents.length - 1];
        if (!(last?.parts ?? []).some((p) => p.functionResponse?.name === tool)) continue;
      }
      return rule.reply;
    }
    if (this.next >= this.replies.length)
      throw new Error(`ScriptedLlm '${this.model}': script exhausted after ${this.replies.length} replies`);
    return this.replies[this.next++];
  }

  async *generateContentAsync(req, stream) {
    this.requests.push(req);
    const reply = this.pick(req);
    const raise = reply.raise;
    if (raise !== undefined) throw new Error(raise);
    const errorCode = key(reply, 'errorCode', 'error_code');
    const errorMessage = key(reply, 'errorMessage', 'error_message');
    if (errorCode !== undefined || errorMessage !== undefined) {
      yield {errorCode, errorMessage, turnComplete: true};
      return;
    }
    const chunks = reply.chunks ?? [];
    let text = reply.text ?? '';
    if (!text && chunks.length) text = chunks.join('');
    if (stream && chunks.length) {
      for (const chunk of chunks) yield {content: {role: 'model', parts: [{text: chunk}]}, partial: true};
    }
    const parts = [];
    if (text) parts.push({text});
    for (const call of key(reply, 'functionCalls', 'function_calls') ?? []) {
      const fc = {name: call.name, args: call.args ?? {}};
      if (call.id) fc.id = call.id;
      parts.push({functionCall: fc});
    }
    yield {content: {role: 'model', parts}, turnComplete: true};
  }
}

/** The model of the apps in ts_agents, playing $EQUIV_SCRIPT (set by
 * equivalence_test.mjs). ADK-TS's agent loader compiles each agent file into
 * a temporary directory, so a path relative to this module would not work;
 * each app gets its own copy of this module (the script uses rules only, so
 * sharing one instance, as adk-server's "scripted", makes no difference). */
if (!process.env.EQUIV_SCRIPT) throw new Error('EQUIV_SCRIPT must name the script file (equivalence/script.json)');
export const scriptedModel = ScriptedLlm.fromFile(process.env.EQUIV_SCRIPT);
