// How the run page reads an agent's child steps: turns (`t<n>`, kind `agent.turn`) and their tool
// calls (`t<n>.c<i>`, kind `agent.tool`), which share the agent step's node and iteration and sit
// below its path. The shapes read here are what the agent kinds record (TurnOutput, ToolCallOutput);
// anything else (an older or partial record) degrades to what can still be shown.

/** Tokens and cost of a step's model requests (the run API's `usage`). */
export interface Usage {
	requests: number;
	inputTokens: number;
	outputTokens: number;
	cachedInputTokens: number;
	costUsd: number;
	/** Requests to models without a price: counted at 0. */
	unpriced: number;
}

/** What the grouping needs of a step; the page's steps carry more, which is kept. */
export interface ConversationStep {
	id: string;
	nodeId: string;
	iteration: number;
	path: string;
	kind: string;
	status: string;
	input: unknown;
	output: unknown;
	error: { code: string; message: string } | null;
	usage: Usage | null;
}

/** How a tool call ended, or that it has not yet. */
export type CallOutcome =
	| { type: 'result'; value: unknown }
	| { type: 'error'; message: string }
	| { type: 'denied'; reason: string }
	| { type: 'pending' };

export interface ToolCall<S extends ConversationStep> {
	index: number;
	/** The id the model gave the call. */
	callId: string;
	name: string;
	input: unknown;
	/** Null while the call's step is not created yet (the turn just finished). */
	step: S | null;
	outcome: CallOutcome;
	/** A nested agent's conversation, when the call ran one as its own children. */
	conversation: Conversation<S> | null;
}

export interface Turn<S extends ConversationStep> {
	number: number;
	step: S;
	/** A user message sent before this turn, asking to repair an invalid answer. */
	repair: string | null;
	/** The assistant's text; empty while the turn runs (the page shows the stream instead). */
	text: string;
	model: string | null;
	durationMs: number | null;
	finishReason: string | null;
	calls: ToolCall<S>[];
}

/** A message of the opening: the first user message(s) of the conversation. */
export interface OpeningMessage {
	role: string;
	text: string;
}

export interface Conversation<S extends ConversationStep> {
	system: string;
	opening: OpeningMessage[];
	turns: Turn<S>[];
	/** The sum over every request below the agent (its turns, and nested agents'). */
	usage: Usage | null;
}

/** A step the list shows as a row: a node's step or a map iteration, with its agent's children. */
export interface StepEntry<S extends ConversationStep> {
	step: S;
	conversation: Conversation<S> | null;
}

/** The path of the step a child belongs to ('' for a node's own step or a map iteration). */
export function parentPath(path: string): string {
	const slash = path.lastIndexOf('/');
	return slash < 0 ? '' : path.slice(0, slash);
}

const childName = (path: string) => path.slice(path.lastIndexOf('/') + 1);
const turnName = /^t(\d+)$/;
const callName = /^t(\d+)\.c(\d+)$/;

const isRecord = (value: unknown): value is Record<string, unknown> =>
	typeof value === 'object' && value !== null && !Array.isArray(value);

const stringOr = <T>(value: unknown, fallback: T): string | T =>
	typeof value === 'string' ? value : fallback;

const numberOr = <T>(value: unknown, fallback: T): number | T =>
	typeof value === 'number' && Number.isFinite(value) ? value : fallback;

/** Sums usages; null when none of them made a request. */
export function sumUsage(usages: (Usage | null)[]): Usage | null {
	let total: Usage | null = null;
	for (const usage of usages) {
		if (usage === null) continue;
		total ??= {
			requests: 0,
			inputTokens: 0,
			outputTokens: 0,
			cachedInputTokens: 0,
			costUsd: 0,
			unpriced: 0
		};
		total.requests += usage.requests;
		total.inputTokens += usage.inputTokens;
		total.outputTokens += usage.outputTokens;
		total.cachedInputTokens += usage.cachedInputTokens;
		total.costUsd += usage.costUsd;
		total.unpriced += usage.unpriced;
	}
	return total;
}

/** A message's text: a string content, or its text parts joined (other parts are named). */
function messageText(content: unknown): string {
	if (typeof content === 'string') return content;
	if (!Array.isArray(content)) return '';
	return content
		.map((part) =>
			isRecord(part) && part.type === 'text'
				? stringOr(part.text, '')
				: `[${isRecord(part) ? stringOr(part.type, 'part') : 'part'}]`
		)
		.join('\n');
}

function openingOf(input: unknown): OpeningMessage[] {
	if (!isRecord(input) || !Array.isArray(input.opening)) return [];
	return input.opening.filter(isRecord).map((message) => ({
		role: stringOr(message.role, 'user'),
		text: messageText(message.content)
	}));
}

function outcomeOf(step: ConversationStep | null): CallOutcome {
	if (step === null) return { type: 'pending' };
	if (step.status === 'succeeded' && isRecord(step.output)) {
		const output = step.output;
		if (output.denied === true) return { type: 'denied', reason: stringOr(output.reason, '') };
		if ('error' in output) return { type: 'error', message: stringOr(output.error, '') };
		return { type: 'result', value: output.result ?? null };
	}
	if (step.status === 'failed' || step.status === 'cancelled') {
		return { type: 'error', message: step.error?.message ?? `The call was ${step.status}.` };
	}
	return { type: 'pending' };
}

/** The agent below `path` among `family` (the steps of one node and iteration), or null. */
function conversationAt<S extends ConversationStep>(
	family: S[],
	path: string
): Conversation<S> | null {
	const turnSteps = new Map<number, S>();
	const callSteps = new Map<number, S[]>();
	for (const step of family) {
		if (step.path === path || parentPath(step.path) !== path) continue;
		const name = childName(step.path);
		const turn = turnName.exec(name);
		if (turn) {
			turnSteps.set(Number(turn[1]), step);
			continue;
		}
		const call = callName.exec(name);
		if (!call) continue;
		const list = callSteps.get(Number(call[1])) ?? [];
		list[Number(call[2])] = step;
		callSteps.set(Number(call[1]), list);
	}
	if (turnSteps.size === 0) return null;
	const numbers = [...turnSteps.keys()].sort((a, b) => a - b);
	const turns = numbers.map((number) =>
		turnOf(family, number, turnSteps.get(number) as S, callSteps.get(number) ?? [])
	);
	const first = turns[0]?.step.input;
	const below = `${path === '' ? '' : `${path}/`}`;
	return {
		system: isRecord(first) ? stringOr(first.system, '') : '',
		opening: openingOf(first),
		turns,
		usage: sumUsage(
			family
				.filter((step) => step.path !== path && step.path.startsWith(below))
				.map((step) => step.usage)
		)
	};
}

function turnOf<S extends ConversationStep>(
	family: S[],
	number: number,
	step: S,
	callSteps: S[]
): Turn<S> {
	const input = isRecord(step.input) ? step.input : {};
	const output = isRecord(step.output) ? step.output : null;
	const requested = output !== null && Array.isArray(output.toolCalls) ? output.toolCalls : [];
	const count = Math.max(requested.length, callSteps.length);
	const calls: ToolCall<S>[] = [];
	for (let index = 0; index < count; index += 1) {
		const callStep = callSteps[index] ?? null;
		// The turn's record names the call; a call step's input repeats it (and outlives a lost turn).
		const stepCall =
			callStep !== null && isRecord(callStep.input) && isRecord(callStep.input.call)
				? callStep.input.call
				: {};
		const call = isRecord(requested[index]) ? requested[index] : stepCall;
		calls.push({
			index,
			callId: stringOr(call.id, ''),
			name: stringOr(call.name, '?'),
			input: call.input ?? null,
			step: callStep,
			outcome: outcomeOf(callStep),
			conversation: callStep === null ? null : conversationAt(family, callStep.path)
		});
	}
	return {
		number,
		step,
		repair: stringOr(input.repair, null),
		text: output === null ? '' : stringOr(output.text, ''),
		model: output === null ? null : stringOr(output.model, null),
		durationMs: output === null ? null : numberOr(output.durationMs, null),
		finishReason: output === null ? null : stringOr(output.finishReason, null),
		calls
	};
}

/**
 * The rows of the step list: every node step and map iteration (path ''), in the given order, each
 * with the conversation its child steps make when it is an agent. Children group by node and
 * iteration, so the agents of a map's iterations each get their own.
 */
export function conversationOf<S extends ConversationStep>(steps: S[]): StepEntry<S>[] {
	const families = new Map<string, S[]>();
	for (const step of steps) {
		if (step.path === '') continue;
		const key = `${step.iteration}:${step.nodeId}`;
		const family = families.get(key) ?? [];
		family.push(step);
		families.set(key, family);
	}
	return steps
		.filter((step) => step.path === '')
		.map((step) => {
			const family = families.get(`${step.iteration}:${step.nodeId}`);
			return { step, conversation: family ? conversationAt(family, '') : null };
		});
}

const tokenCount = new Intl.NumberFormat('en-GB');

/** "1,200 in · 300 out · 1,000 cached": the cached count only when some input was cached. */
export function formatTokens(usage: Usage): string {
	const parts = [
		`${tokenCount.format(usage.inputTokens)} in`,
		`${tokenCount.format(usage.outputTokens)} out`
	];
	if (usage.cachedInputTokens > 0)
		parts.push(`${tokenCount.format(usage.cachedInputTokens)} cached`);
	return parts.join(' · ');
}

/** Dollars to the cent; below a cent, two significant digits (a model request is often cheap). */
export function formatCost(usd: number): string {
	if (usd === 0) return '$0.00';
	if (usd < 0.0001) return '< $0.0001';
	if (usd < 0.01) return `$${Number(usd.toPrecision(2)).toString()}`;
	return `$${usd.toFixed(2)}`;
}
