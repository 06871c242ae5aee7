import { describe, expect, it } from 'vitest';
import {
	conversationOf,
	formatCost,
	formatTokens,
	sumUsage,
	type ConversationStep,
	type Usage
} from './conversation';

const usage = (inputTokens: number, outputTokens: number, costUsd = 0, unpriced = 0): Usage => ({
	requests: 1,
	inputTokens,
	outputTokens,
	cachedInputTokens: 0,
	costUsd,
	unpriced
});

let ids = 0;
function step(fields: Partial<ConversationStep> & { path: string }): ConversationStep {
	ids += 1;
	return {
		id: `s${ids}`,
		nodeId: 'ask',
		iteration: -1,
		kind: 'agent',
		status: 'succeeded',
		input: null,
		output: null,
		error: null,
		usage: null,
		...fields
	};
}

/** The first of `items`, which the test expects to be there. */
function first<T>(items: T[]): T {
	const item = items[0];
	if (item === undefined) throw new Error('Expected at least one item.');
	return item;
}

const opening = [{ role: 'user', content: 'What time is it?' }];

function turn(
	number: number,
	fields: { text?: string; toolCalls?: { id: string; name: string; input: unknown }[] } = {},
	extra: Partial<ConversationStep> = {}
): ConversationStep {
	return step({
		path: `t${number}`,
		kind: 'agent.turn',
		input: { turn: number, system: 'Be brief.', opening, repair: null },
		output: {
			turn: number,
			text: fields.text ?? '',
			toolCalls: fields.toolCalls ?? [],
			usage: { inputTokens: 10, outputTokens: 5, cachedInputTokens: 0 },
			finishReason: (fields.toolCalls ?? []).length > 0 ? 'tool-calls' : 'stop',
			providerKind: 'scripted',
			model: 'script-1',
			durationMs: 12
		},
		usage: usage(10, 5, 0.001),
		...extra
	});
}

function call(
	turnNumber: number,
	index: number,
	name: string,
	extra: Partial<ConversationStep>
): ConversationStep {
	return step({
		path: `t${turnNumber}.c${index}`,
		kind: 'agent.tool',
		input: { turn: turnNumber, call: { id: `call-${index}`, name, input: {} }, tool: null },
		...extra
	});
}

const clockCall = { id: 'call-0', name: 'current_time', input: { zone: 'UTC' } };

describe('conversationOf', () => {
	it('leaves steps without children as plain rows', () => {
		const plain = step({ path: '', kind: 'template' });
		expect(conversationOf([plain])).toEqual([{ step: plain, conversation: null }]);
	});

	it('groups turns and their calls under the agent, with the opening and the summed usage', () => {
		const agent = step({ path: '' });
		const t0 = turn(0, { toolCalls: [clockCall] });
		const c0 = call(0, 0, 'current_time', {
			output: { toolCallId: 'call-0', name: 'current_time', result: { iso: '2030-01-01' } }
		});
		const t1 = turn(1, { text: 'It is 2030.' });
		// Children may arrive in any order: they sort by turn and call number.
		const entries = conversationOf([agent, t1, c0, t0]);
		expect(entries).toHaveLength(1);
		const entry = first(entries);
		expect(entry.step).toBe(agent);
		const conversation = entry.conversation;
		expect(conversation?.system).toBe('Be brief.');
		expect(conversation?.opening).toEqual([{ role: 'user', text: 'What time is it?' }]);
		expect(conversation?.turns.map((item) => item.number)).toEqual([0, 1]);
		expect(conversation?.turns[0]?.calls).toEqual([
			{
				index: 0,
				callId: 'call-0',
				name: 'current_time',
				input: { zone: 'UTC' },
				step: c0,
				outcome: { type: 'result', value: { iso: '2030-01-01' } },
				conversation: null
			}
		]);
		expect(conversation?.turns[1]).toMatchObject({
			text: 'It is 2030.',
			model: 'script-1',
			durationMs: 12,
			finishReason: 'stop',
			repair: null,
			calls: []
		});
		expect(conversation?.usage).toEqual({ ...usage(20, 10, 0.002), requests: 2 });
	});

	it('shows a call whose step is still running, and one not created yet, as pending', () => {
		const agent = step({ path: '', status: 'waiting' });
		const t0 = turn(0, {
			toolCalls: [clockCall, { id: 'call-1', name: 'http_request', input: { url: 'x' } }]
		});
		const running = call(0, 0, 'current_time', { status: 'running' });
		const entry = first(conversationOf([agent, t0, running]));
		const calls = entry.conversation?.turns[0]?.calls ?? [];
		expect(calls.map((item) => [item.name, item.outcome.type, item.step?.status])).toEqual([
			['current_time', 'pending', 'running'],
			['http_request', 'pending', undefined]
		]);
	});

	it('shows a running turn without text, and a failed turn with its error', () => {
		const agent = step({ path: '', status: 'failed' });
		const failed = step({
			path: 't0',
			kind: 'agent.turn',
			status: 'failed',
			input: { turn: 0, system: '', opening, repair: null },
			error: { code: 'provider_error', message: 'The provider answered 500.' }
		});
		const entry = first(conversationOf([agent, failed]));
		expect(entry.conversation?.turns[0]).toMatchObject({
			text: '',
			model: null,
			durationMs: null,
			calls: []
		});
		expect(entry.conversation?.turns[0]?.step.error?.code).toBe('provider_error');
		expect(entry.conversation?.usage).toBeNull();
	});

	it('marks denied calls and calls that answered an error, or failed', () => {
		const agent = step({ path: '' });
		const t0 = turn(0, {
			toolCalls: [
				clockCall,
				{ id: 'call-1', name: 'delete_all', input: {} },
				{ id: 'call-2', name: 'http_request', input: {} }
			]
		});
		const errored = call(0, 0, 'current_time', {
			output: { toolCallId: 'call-0', name: 'current_time', error: 'Unknown zone.' }
		});
		const denied = call(0, 1, 'delete_all', {
			output: { toolCallId: 'call-1', name: 'delete_all', denied: true, reason: 'Not today.' }
		});
		const failed = call(0, 2, 'http_request', {
			status: 'failed',
			error: { code: 'timeout', message: 'The call timed out.' }
		});
		const entry = first(conversationOf([agent, t0, errored, denied, failed]));
		expect(entry.conversation?.turns[0]?.calls.map((item) => item.outcome)).toEqual([
			{ type: 'error', message: 'Unknown zone.' },
			{ type: 'denied', reason: 'Not today.' },
			{ type: 'error', message: 'The call timed out.' }
		]);
	});

	it('shows the repair request a turn was sent with', () => {
		const agent = step({ path: '' });
		const t0 = turn(0, { text: 'not json' });
		const t1 = turn(1, { text: '{"ok":true}' });
		(t1.input as { repair: string }).repair = 'Your answer does not match the schema.';
		const entry = first(conversationOf([agent, t0, t1]));
		expect(entry.conversation?.turns.map((item) => item.repair)).toEqual([
			null,
			'Your answer does not match the schema.'
		]);
	});

	it("gives each map iteration's agent its own conversation", () => {
		const map = step({ path: '', kind: 'map', iteration: -1 });
		const first = step({ path: '', iteration: 0 });
		const second = step({ path: '', iteration: 1 });
		const firstTurn = { ...turn(0, { text: 'one' }), iteration: 0 };
		const secondTurn = { ...turn(0, { text: 'two' }), iteration: 1 };
		const secondNext = { ...turn(1, { text: 'two, again' }), iteration: 1 };
		const entries = conversationOf([map, first, second, secondNext, firstTurn, secondTurn]);
		expect(entries.map((entry) => entry.step)).toEqual([map, first, second]);
		expect(entries[0]?.conversation).toBeNull();
		expect(entries[1]?.conversation?.turns.map((item) => item.text)).toEqual(['one']);
		expect(entries[2]?.conversation?.turns.map((item) => item.text)).toEqual(['two', 'two, again']);
	});

	it("nests an agent run by a tool call under that call, and counts its tokens in the parent's", () => {
		const agent = step({ path: '' });
		const t0 = turn(0, { toolCalls: [{ id: 'call-0', name: 'researcher', input: {} }] });
		const c0 = call(0, 0, 'researcher', { status: 'waiting' });
		const inner = { ...turn(0, { text: 'inner answer' }), path: 't0.c0/t0' };
		const entry = first(conversationOf([agent, t0, c0, inner]));
		const nested = entry.conversation?.turns[0]?.calls[0]?.conversation;
		expect(nested?.turns.map((item) => item.text)).toEqual(['inner answer']);
		expect(entry.conversation?.turns).toHaveLength(1);
		expect(entry.conversation?.usage?.requests).toBe(2);
	});
});

describe('sumUsage', () => {
	it('is null when nothing made a request, and adds every field otherwise', () => {
		expect(sumUsage([null, null])).toBeNull();
		expect(sumUsage([usage(1, 2, 0.5, 1), null, usage(3, 4, 0.25)])).toEqual({
			requests: 2,
			inputTokens: 4,
			outputTokens: 6,
			cachedInputTokens: 0,
			costUsd: 0.75,
			unpriced: 1
		});
	});
});

describe('formatting usage', () => {
	it('names tokens, cached ones only when there are some', () => {
		expect(formatTokens(usage(1200, 30))).toBe('1,200 in · 30 out');
		expect(formatTokens({ ...usage(1200, 30), cachedInputTokens: 1000 })).toBe(
			'1,200 in · 30 out · 1,000 cached'
		);
	});

	it('shows dollars to the cent, and small amounts to two significant digits', () => {
		expect(formatCost(0)).toBe('$0.00');
		expect(formatCost(1.234)).toBe('$1.23');
		expect(formatCost(0.00123)).toBe('$0.0012');
		expect(formatCost(0.00000004)).toBe('< $0.0001');
	});
});
