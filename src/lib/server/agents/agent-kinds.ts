import type { ModelMessage } from 'ai';
import { z } from 'zod';
import {
	agentLimitsSchema,
	agentToolSchema,
	modelNameSchema,
	outputSchemaSchema,
	type AgentLimits,
	type AgentTool
} from '../../schemas/agents.ts';
import { parentPath } from '../engine/children.ts';
import { renderForStep, templateProblems } from '../engine/kinds/step-expressions.ts';
import {
	StepFailure,
	type AnyNodeKind,
	type ChildStep,
	type ConfigProblem,
	type ModelUsageRecord,
	type NodeKind,
	type StepContext,
	type StepOutcome
} from '../engine/kinds/types.ts';
import { checkBudgets, turnsExceeded } from './budgets.ts';
import {
	conversationFor,
	journal,
	turnNumber,
	type DeclaredTool,
	type ToolCallOutput,
	type ToolCallRequest,
	type TurnOutput
} from './conversation.ts';
import { checkAnswer } from './structured-output.ts';
import { inputValidator } from '../tools/registry.ts';

// The `agent` node and its journaled loop. The agent step is a parent (engine/children.ts): it
// parks while a child step does the work and decides what comes next when woken. A turn child
// (`agent.turn`, path `t<n>`) makes exactly one model request and records the assistant's message,
// its tool calls and usage; each tool call is a child of its own (`agent.tool`, `t<n>.c<i>`,
// idempotency key `run:node:t<n>:c<i>`). The next turn starts when the turn's tool calls have all
// finished. The conversation is rebuilt from the journal for every turn, so a worker that dies
// loses at most the request in flight, and finished turns are never requested again.

export const agentConfigSchema = z
	.object({
		/** A saved agent (the Agents page); the fields below override its settings. */
		agentId: z.uuid('Choose an agent.').optional(),
		providerId: z.uuid('Choose a model provider.').optional(),
		model: modelNameSchema.optional(),
		/** The system instructions: a `{{ path }}` template. */
		instructions: z.string().max(100_000, 'Use at most 100,000 characters.').optional(),
		/** The user message: a `{{ path }}` template; the step input as JSON when absent. */
		prompt: z.string().min(1, 'Enter a prompt.').max(20_000).optional(),
		temperature: z.number().min(0).max(2).optional(),
		tools: z.array(agentToolSchema).max(64, 'Give at most 64 tools.').optional(),
		limits: agentLimitsSchema.partial().optional(),
		outputSchema: outputSchemaSchema.optional()
	})
	.strict()
	.refine((config) => config.agentId !== undefined || config.providerId !== undefined, {
		message: 'Choose a saved agent or a model provider.',
		path: ['agentId']
	});

export type AgentConfig = z.infer<typeof agentConfigSchema>;

/** A saved agent, as an agent step uses it. */
export interface SavedAgentSpec {
	providerId: string;
	model: string | null;
	instructions: string;
	temperature: number | null;
	tools: AgentTool[];
	limits: AgentLimits;
	outputSchema: Record<string, unknown> | null;
}

/** A tool an agent may call, resolved when its step starts. */
export interface ResolvedTool extends DeclaredTool {
	requiresApproval: boolean;
	ref: AgentTool;
}

/** One model request, as the agent loop asks for it. */
export interface ModelTurnRequest {
	system: string;
	messages: ModelMessage[];
	tools: DeclaredTool[];
	outputSchema: Record<string, unknown> | null;
	temperature: number | null;
	signal: AbortSignal;
	onTextDelta(text: string): void;
}

export interface ModelTurnResult {
	text: string;
	toolCalls: ToolCallRequest[];
	usage: TurnOutput['usage'];
	finishReason: string;
	durationMs: number;
	providerId: string;
	providerKind: string;
	model: string;
}

export interface TurnModel {
	/**
	 * One streamed model request. Provider failures are thrown as StepFailure (retryable for rate
	 * limits, timeouts and server errors).
	 */
	call(request: ModelTurnRequest): Promise<ModelTurnResult>;
}

/**
 * Awaits independent work side by side (each a database round trip or more) and throws the first
 * failure in the order given, whichever finished first: a budget exceeded is reported as such even
 * when the provider is gone too.
 */
export async function together<T extends readonly unknown[]>(work: {
	[K in keyof T]: Promise<T[K]>;
}): Promise<T> {
	const settled = await Promise.allSettled(work);
	const failed = settled.find((result) => result.status === 'rejected');
	if (failed !== undefined) throw failed.reason;
	return settled.map((result) => (result as PromiseFulfilledResult<unknown>).value) as unknown as T;
}

/** Where a tool call runs: for a run's step, on behalf of the run's owner. */
export interface ToolCallContext {
	runId: string;
	workspaceId: string;
	idempotencyKey: string;
	signal: AbortSignal;
	conceal(secrets: readonly string[]): void;
}

/** What the agent kinds need from the rest of the system, given by the composition root. */
export interface AgentDeps {
	/**
	 * A workspace's provider ready for requests to `model` (its default when null): the record and
	 * its API key looked up, or StepFailure when they are gone.
	 */
	openModel(workspaceId: string, providerId: string, model: string | null): Promise<TurnModel>;
	loadAgent(workspaceId: string, agentId: string): Promise<SavedAgentSpec | null>;
	/** The tools the references name, as the model will see them; StepFailure when one is gone. */
	resolveTools(workspaceId: string, refs: AgentTool[]): Promise<ResolvedTool[]>;
	/**
	 * Whether the run's owner may still have tools run for them, checked as each call executes;
	 * throws StepFailure when not.
	 */
	authorize(runId: string): Promise<void>;
	/**
	 * Runs a built-in or custom tool; an expected failure is thrown as an Error whose message is
	 * safe to give the model.
	 */
	runTool(context: ToolCallContext, tool: ResolvedTool, input: unknown): Promise<unknown>;
}

/** What an agent step keeps between its executions. */
interface AgentState {
	[key: string]: unknown;
	spec: {
		providerId: string;
		model: string | null;
		temperature: number | null;
		limits: AgentLimits;
		outputSchema: Record<string, unknown> | null;
		tools: ResolvedTool[];
	};
	system: string;
	opening: ModelMessage[];
	repairs: number;
}

/** What a turn child gets as input: enough to make its request with the journal. */
interface TurnInput {
	turn: number;
	providerId: string;
	model: string | null;
	temperature: number | null;
	system: string;
	opening: ModelMessage[];
	/** As the model sees them, with what running each takes (approval, the reference). */
	tools: ResolvedTool[];
	outputSchema: Record<string, unknown> | null;
	limits: AgentLimits;
	repair: string | null;
}

/** What a tool-call child gets as input. */
interface ToolCallInput {
	turn: number;
	call: ToolCallRequest;
	/** Null when the model named a tool it was not given. */
	tool: ResolvedTool | null;
}

const defaultLimits: AgentLimits = { maxTurns: 10 };
/** Each call is a step of its own: a model asking for hundreds at once is refused, not obeyed. */
export const maxToolCallsPerTurn = 32;

async function specOf(deps: AgentDeps, context: StepContext, config: AgentConfig) {
	const saved =
		config.agentId === undefined ? null : await deps.loadAgent(context.workspaceId, config.agentId);
	if (config.agentId !== undefined && saved === null)
		throw new StepFailure('agent_not_found', 'The agent does not exist in this workspace.', {
			retryable: false
		});
	const providerId = config.providerId ?? saved?.providerId;
	if (providerId === undefined)
		throw new StepFailure('invalid_config', 'Choose a model provider.', { retryable: false });
	const refs = config.tools ?? saved?.tools ?? [];
	return {
		providerId,
		model: config.model ?? saved?.model ?? null,
		temperature: config.temperature ?? saved?.temperature ?? null,
		limits: { ...defaultLimits, ...saved?.limits, ...config.limits },
		outputSchema: config.outputSchema ?? saved?.outputSchema ?? null,
		tools: refs.length === 0 ? [] : await deps.resolveTools(context.workspaceId, refs),
		instructions: config.instructions ?? saved?.instructions ?? ''
	};
}

/** The tool-call children of a turn, each with the tool it names (null: one it was not given). */
function toolCallChildren(turn: number, calls: ToolCallRequest[], tools: ResolvedTool[]) {
	const byName = new Map(tools.map((tool) => [tool.name, tool]));
	return calls.map((call, index) => {
		const input: ToolCallInput = { turn, call, tool: byName.get(call.name) ?? null };
		return { name: `t${turn}.c${index}`, kind: 'agent.tool', input };
	});
}

function turnChild(state: AgentState, turn: number, repair: string | null) {
	const input: TurnInput = {
		turn,
		providerId: state.spec.providerId,
		model: state.spec.model,
		temperature: state.spec.temperature,
		system: state.system,
		opening: state.opening,
		tools: state.spec.tools,
		outputSchema: state.spec.outputSchema,
		limits: state.spec.limits,
		repair
	};
	return { name: `t${turn}`, kind: 'agent.turn', input };
}

const waitFor = (
	state: AgentState,
	children: { name: string; kind: string; input: unknown }[] = []
): StepOutcome => ({
	type: 'wait',
	until: null,
	state,
	...(children.length > 0 && { effect: { type: 'children' as const, children } })
});

async function startAgent(deps: AgentDeps, context: StepContext, config: AgentConfig) {
	const spec = await specOf(deps, context, config);
	const system = spec.instructions === '' ? '' : renderForStep(context, spec.instructions, 'text');
	const prompt =
		config.prompt === undefined
			? JSON.stringify(context.input ?? null)
			: renderForStep(context, config.prompt, 'text');
	const state: AgentState = {
		spec: {
			providerId: spec.providerId,
			model: spec.model,
			temperature: spec.temperature,
			limits: spec.limits,
			outputSchema: spec.outputSchema,
			tools: spec.tools
		},
		system,
		opening: [{ role: 'user', content: prompt }],
		repairs: 0
	};
	return waitFor(state, [turnChild(state, 0, null)]);
}

function isFinished(step: ChildStep): boolean {
	return step.status === 'succeeded' || step.status === 'failed' || step.status === 'cancelled';
}

/** Woken when a turn or a turn's last tool call finished: decides what comes next. */
async function continueAgent(context: StepContext): Promise<StepOutcome> {
	const state = context.state as AgentState;
	const children = await context.lookup.children();
	const { turns, callsOf } = journal(children);
	const latest = turns.at(-1);
	if (latest === undefined || !isFinished(latest)) return waitFor(state);
	const turn = turnNumber(latest) as number;
	if (latest.status !== 'succeeded') {
		throw new StepFailure(
			latest.error?.code ?? 'turn_failed',
			latest.error?.message ?? `Turn ${turn} did not finish.`,
			{ retryable: false }
		);
	}
	const output = latest.output as TurnOutput;
	const { maxTurns } = state.spec.limits;
	if (output.toolCalls.length > maxToolCallsPerTurn) {
		throw new StepFailure(
			'too_many_tool_calls',
			`The model asked for ${output.toolCalls.length} tool calls in one turn; an agent runs at most ${maxToolCallsPerTurn}.`,
			{ retryable: false }
		);
	}
	if (output.toolCalls.length > 0) {
		// The turn's commit made its calls; the agent is woken once they have all finished.
		if (!callsOf(turn).every(isFinished)) return waitFor(state);
		if (turn + 1 >= maxTurns) throw turnsExceeded(maxTurns);
		return waitFor(state, [turnChild(state, turn + 1, null)]);
	}
	const answer = checkAnswer(output.text, state.spec.outputSchema);
	if (answer.ok) return { type: 'succeeded', output: answer.value };
	if (state.repairs >= 1) {
		throw new StepFailure(
			'invalid_output',
			`The model's answer does not match the output schema (${answer.problem}), also after a request to repair it. Its answer: ${output.text}`,
			{ retryable: false }
		);
	}
	if (turn + 1 >= maxTurns) throw turnsExceeded(maxTurns);
	const repaired: AgentState = { ...state, repairs: state.repairs + 1 };
	return waitFor(repaired, [
		turnChild(
			repaired,
			turn + 1,
			`Your answer does not match the required JSON Schema: ${answer.problem}. Answer again with only a JSON value that matches it.`
		)
	]);
}

function agentKind(deps: AgentDeps): NodeKind<AgentConfig> {
	return {
		kind: 'agent',
		description:
			'An LLM agent: calls tools in a loop until it answers; every turn and tool call is journaled.',
		configSchema: agentConfigSchema,
		branches: () => 'none',
		checkConfig: (config) => [...promptProblems(config), ...schemaProblems(config.outputSchema)],
		// Its templates are rendered when it starts; woken, it reads only its journal.
		readsOutputs: (state) => state === null,
		resumeInline: true,
		execute: (context, config) =>
			context.state === null ? startAgent(deps, context, config) : continueAgent(context)
	};
}

export function promptProblems(config: {
	instructions?: string;
	prompt?: string;
}): ConfigProblem[] {
	return [
		...templateProblems('instructions', config.instructions || undefined),
		...templateProblems('prompt', config.prompt)
	];
}

/** An output schema that cannot be turned into a validator is a config problem. */
export function schemaProblems(schema: Record<string, unknown> | undefined): ConfigProblem[] {
	if (schema === undefined) return [];
	try {
		inputValidator(schema);
		return [];
	} catch (error) {
		return [
			{ path: 'outputSchema', message: error instanceof Error ? error.message : String(error) }
		];
	}
}

/** The usage record of a model request, for the ledger. */
export function usageRecord(result: ModelTurnResult): ModelUsageRecord {
	return {
		providerId: result.providerId,
		providerKind: result.providerKind,
		model: result.model,
		inputTokens: result.usage.inputTokens,
		outputTokens: result.usage.outputTokens,
		cachedInputTokens: result.usage.cachedInputTokens,
		durationMs: Math.round(result.durationMs)
	};
}

function turnKind(deps: AgentDeps): NodeKind<AgentConfig> {
	return {
		kind: 'agent.turn',
		description: "One model request of an agent's loop.",
		configSchema: agentConfigSchema,
		childOnly: true,
		readsOutputs: () => false,
		branches: () => 'none',
		async execute(context) {
			const input = context.input as TurnInput;
			const agentPath = parentPath(context.path);
			// The budgets, the journal and the provider are read side by side; nothing is sent before
			// all three are known.
			const [, journaled, model] = await together([
				checkBudgets(context, input.limits, agentPath),
				context.lookup.children(agentPath),
				deps.openModel(context.workspaceId, input.providerId, input.model)
			] as const);
			const result = await model.call({
				system: input.system,
				messages: conversationFor(input.opening, journaled, input.turn, input.repair),
				tools: input.tools.map(({ name, description, inputSchema }) => ({
					name,
					description,
					inputSchema
				})),
				outputSchema: input.tools.length === 0 ? input.outputSchema : null,
				temperature: input.temperature,
				signal: context.signal,
				onTextDelta: (text) => context.stream(text)
			});
			const output: TurnOutput = {
				turn: input.turn,
				text: result.text,
				toolCalls: result.toolCalls,
				usage: result.usage,
				finishReason: result.finishReason,
				providerKind: result.providerKind,
				model: result.model,
				durationMs: Math.round(result.durationMs)
			};
			// The tool calls are made in the turn's commit: the agent step wakes once they are done.
			const calls =
				result.toolCalls.length > maxToolCallsPerTurn
					? []
					: toolCallChildren(input.turn, result.toolCalls, input.tools);
			return {
				type: 'succeeded',
				output,
				usage: [usageRecord(result)],
				...(calls.length > 0 && { siblings: calls })
			};
		}
	};
}

const approvalDetailsLimit = 4_000;

function approvalEffect(call: ToolCallRequest) {
	const input = JSON.stringify(call.input ?? null, null, 2);
	return {
		type: 'approval' as const,
		title: `An agent wants to call ${call.name}`,
		details:
			input.length > approvalDetailsLimit ? `${input.slice(0, approvalDetailsLimit)}…` : input,
		deadlineAt: null
	};
}

async function callTool(
	deps: AgentDeps,
	context: StepContext,
	input: ToolCallInput
): Promise<StepOutcome> {
	const { call, tool } = input;
	const base = { toolCallId: call.id, name: call.name };
	const done = (output: ToolCallOutput): StepOutcome => ({ type: 'succeeded', output });
	if (tool === null) return done({ ...base, error: `There is no tool named "${call.name}".` });
	const phase = (context.state as { phase?: string } | null)?.phase ?? null;
	if (tool.requiresApproval) {
		if (phase === null)
			return {
				type: 'wait',
				until: null,
				state: { phase: 'approval' },
				effect: approvalEffect(call)
			};
		if (phase === 'approval') {
			const approval = await context.lookup.approval();
			if (approval === null || approval.status === 'pending')
				return { type: 'wait', until: null, state: { phase: 'approval' } };
			if (approval.status !== 'approved') {
				const reason = approval.comment.trim() === '' ? 'No reason was given.' : approval.comment;
				return done({ ...base, denied: true, reason: `A person denied this call: ${reason}` });
			}
		}
	}
	if (tool.ref.type === 'workflow') {
		if (phase !== 'child') {
			await deps.authorize(context.runId);
			return {
				type: 'wait',
				until: null,
				state: { phase: 'child' },
				effect: {
					type: 'child-run',
					workflowId: tool.ref.workflowId,
					versionId: null,
					input: call.input ?? {}
				}
			};
		}
		const child = await context.lookup.childRun();
		if (child === null || !['succeeded', 'failed', 'cancelled'].includes(child.status))
			return { type: 'wait', until: null, state: { phase: 'child' } };
		if (child.status === 'succeeded') return done({ ...base, result: child.output });
		return done({
			...base,
			error: child.error?.message ?? `The workflow run was ${child.status}.`
		});
	}
	await deps.authorize(context.runId);
	try {
		const result = await deps.runTool(
			{
				runId: context.runId,
				workspaceId: context.workspaceId,
				idempotencyKey: context.idempotencyKey,
				signal: context.signal,
				conceal: context.conceal
			},
			tool,
			call.input
		);
		return done({ ...base, result });
	} catch (error) {
		if (context.signal.aborted) throw error;
		if (error instanceof StepFailure && error.retryable) throw error;
		return done({ ...base, error: error instanceof Error ? error.message : String(error) });
	}
}

function toolKind(deps: AgentDeps): NodeKind<AgentConfig> {
	return {
		kind: 'agent.tool',
		description: "One tool call of an agent's loop.",
		configSchema: agentConfigSchema,
		childOnly: true,
		readsOutputs: () => false,
		branches: () => 'none',
		execute: (context) => callTool(deps, context, context.input as ToolCallInput)
	};
}

/** The `agent` node kind and the child kinds its loop runs. */
export function createAgentKinds(deps: AgentDeps): AnyNodeKind[] {
	return [agentKind(deps), turnKind(deps), toolKind(deps)];
}
