import type { z } from 'zod';
import type { RunError } from '../../db/schema/index.ts';
import type { DefinitionProblem, WorkflowDefinition } from '../../../schemas/workflow.ts';

/** What expressions and templates see: the run's input and the outputs of finished steps. */
export interface RunData {
	input: unknown;
	steps: Record<string, { output: unknown }>;
}

/** Everything one execution of one step gets; executors never touch the database directly. */
export interface StepContext {
	runId: string;
	workspaceId: string;
	nodeId: string;
	/** -1 for a node's own step, 0… for the iterations of a map node. */
	iteration: number;
	/** '' for a node's step or a map iteration; a child step's place under its parent (`t2`, `t2.c0`). */
	path: string;
	/** 1 on the first attempt. */
	attempt: number;
	/**
	 * `run:node` (`run:node:i` for iteration i of a map): the same on every attempt of this step and
	 * different for every other step, so side effects can be deduplicated downstream.
	 */
	idempotencyKey: string;
	/** The step's input: its single predecessor's output, an object of them keyed by node id, or the map item. */
	input: unknown;
	data: RunData;
	/** Kept by an earlier execution of this step that returned `wait`; null the first time. */
	state: Record<string, unknown> | null;
	/** Aborted on cancellation, on the node's timeout and when the worker loses its lease. */
	signal: AbortSignal;
	now(): Date;
	/** The workflow's run-wide model spending limits, when it sets them. */
	budget: { maxTokens?: number; maxCostUsd?: number } | null;
	/** Answers for steps that wait on something outside them (approvals, child runs, iterations). */
	lookup: StepLookup;
	/** Secret values the step uses (credentials): its output, error and logs are scrubbed of them. */
	conceal(secrets: readonly string[]): void;
	/**
	 * Streams partial output (model tokens) to live viewers, coalesced and scrubbed of concealed
	 * values; not persisted: the step's result is what counts.
	 */
	stream(text: string): void;
}

export interface StepLookup {
	approval(): Promise<{ status: string; comment: string; decidedBy: string | null } | null>;
	childRun(): Promise<{
		id: string;
		status: string;
		output: unknown;
		error: RunError | null;
	} | null>;
	/** The map node's iterations, in item order. */
	iterations(): Promise<{ status: string; output: unknown; error: RunError | null }[]>;
	/** The child steps directly under `path` (default: this step's own), in the order they were made. */
	children(path?: string): Promise<ChildStep[]>;
	/**
	 * Model spending so far: of the step at `scope` (default: this one) with its children, of this
	 * run, and of its workspace this calendar month (UTC).
	 */
	spending(scope?: string): Promise<Spending>;
}

export interface ChildStep {
	path: string;
	kind: string;
	status: string;
	input: unknown;
	output: unknown;
	error: RunError | null;
}

export interface Spending {
	scope: { tokens: number; costUsd: number };
	run: { tokens: number; costUsd: number };
	month: { tokens: number; costUsd: number };
	/** The workspace's monthly limits, null where it has none. */
	monthlyTokenLimit: number | null;
	monthlyCostLimitUsd: number | null;
}

/** A child step a parent asks for: `name` is its last path segment (`t3`, `t3.c1`). */
export interface ChildStepSpec {
	name: string;
	/** The child kind that executes it (registered like node kinds, never used in definitions). */
	kind: string;
	input: unknown;
}

/** One model request, recorded in the ledger with the commit of the step that made it. */
export interface ModelUsageRecord {
	providerId: string | null;
	providerKind: string;
	model: string;
	inputTokens: number;
	outputTokens: number;
	cachedInputTokens: number;
	durationMs: number;
}

/** Work the engine does in the same transaction that records a waiting step. */
export type WaitEffect =
	| { type: 'approval'; title: string; details: string; deadlineAt: Date | null }
	| { type: 'child-run'; workflowId: string; versionId: string | null; input: unknown }
	/** One step per item, at most `concurrency` running at once, each executing `node`. */
	| { type: 'iterations'; items: unknown[]; concurrency: number }
	/** Child steps, all ready at once; the parent is woken when the last of them finishes. */
	| { type: 'children'; children: ChildStepSpec[] };

/** A line a step logged (console output of code); kept as a `step.logs` event. */
export interface StepLogEntry {
	level: 'log' | 'info' | 'warn' | 'error';
	message: string;
}

export type StepOutcome =
	| {
			type: 'succeeded';
			output: unknown;
			branch?: string;
			logs?: StepLogEntry[];
			/** Model requests the step made, written to the cost ledger in its commit. */
			usage?: ModelUsageRecord[];
			/**
			 * For a child step: more children of its parent, made (and claimed when a slot is free)
			 * in its commit, so the parent is woken only once they have finished too.
			 */
			siblings?: ChildStepSpec[];
	  }
	/** Park the step, holding no worker, until `until` (null: until a signal) and execute it again then. */
	| { type: 'wait'; until: Date | null; state: Record<string, unknown>; effect?: WaitEffect };

/** Thrown by executors for an expected failure; `retryable: false` ends the step without retries. */
export class StepFailure extends Error {
	override name = 'StepFailure';
	readonly code: string;
	readonly retryable: boolean;
	readonly logs: StepLogEntry[] | undefined;
	/** Model requests made before the failure: they were paid for all the same. */
	readonly usage: ModelUsageRecord[] | undefined;

	constructor(
		code: string,
		message: string,
		options: { retryable?: boolean; logs?: StepLogEntry[]; usage?: ModelUsageRecord[] } = {}
	) {
		super(message);
		this.code = code;
		this.retryable = options.retryable ?? true;
		this.logs = options.logs;
		this.usage = options.usage;
	}
}

/** Where a config problem is reported: a path inside the node's config, and a message. */
export type ConfigProblem = Omit<DefinitionProblem, 'nodeId'>;

export interface NodeKind<Config = unknown> {
	kind: string;
	/** One line for people choosing a node. */
	description: string;
	configSchema: z.ZodType<Config>;
	/**
	 * Edge labels this node's outgoing edges may carry: a fixed list, or `none` when edges carry no
	 * label. A label-less edge from a branching node is followed whatever the outcome.
	 */
	branches(config: Config): readonly string[] | 'none';
	/**
	 * Executes child steps of another kind's steps (an agent's turns and tool calls), with that
	 * node's config; a definition cannot use it as a node.
	 */
	childOnly?: boolean;
	/**
	 * Pure and quick: no side effects, never waits, and its result depends only on its input, the
	 * run's data and its config. A worker that claims such a step in the commit of its predecessor
	 * may execute it there and record both in that one commit (see engine/fast-commit.ts).
	 */
	inline?: boolean;
	/**
	 * Whether an execution with this state reads `data.steps` (the outputs of the run's finished
	 * nodes). When it says no they are not loaded, and reading them throws. Every execution reads
	 * them when absent.
	 */
	readsOutputs?(state: Record<string, unknown> | null): boolean;
	/**
	 * Woken by its children, an execution only decides what comes next from its state and their
	 * results (quick, no side effects, never waits on anything outside): it is executed within the
	 * commit of the child that woke it, its lookups reading that commit.
	 */
	resumeInline?: boolean;
	/** How many outgoing edges the node may have (the `output` node has none). */
	maxOutgoing?: number;
	/** Checks beyond the schema, such as expressions that must compile. */
	checkConfig?(config: Config, definition: WorkflowDefinition): ConfigProblem[];
	execute(context: StepContext, config: Config): Promise<StepOutcome>;
}

// Node kinds are heterogeneous; the registry stores them erased.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyNodeKind = NodeKind<any>;
