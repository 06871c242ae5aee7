import { StepFailure, type StepContext } from '../engine/kinds/types.ts';

/** The limits of one agent (or llm) step, its children included. */
export interface StepLimits {
	maxTokens?: number;
	maxCostUsd?: number;
}

const usd = (value: number) =>
	`$${value.toLocaleString('en', { minimumFractionDigits: 2, maximumFractionDigits: 6 })}`;
const tokens = (value: number) => `${value.toLocaleString('en')} tokens`;

function exceeded(budget: string, limit: string, spent: string): StepFailure {
	return new StepFailure(
		'budget_exceeded',
		`Budget exceeded: ${budget} is ${limit} and ${spent} ${spent.endsWith('s') ? 'have' : 'has'} been spent; nothing more was sent to the model.`,
		{ retryable: false }
	);
}

/**
 * Refuses to start a model request once any budget is used up: the step's own (the agent step at
 * `scope`, its turns included), the run's (the workflow's `budget`) and the workspace's this month.
 * Spending is read from the cost ledger, which each turn's commit writes.
 */
export async function checkBudgets(
	context: StepContext,
	limits: StepLimits,
	scope: string
): Promise<void> {
	const spending = await context.lookup.spending(scope);
	const checks: [string, number | null | undefined, number, (value: number) => string][] = [
		["this agent step's token limit", limits.maxTokens, spending.scope.tokens, tokens],
		["this agent step's cost limit", limits.maxCostUsd, spending.scope.costUsd, usd],
		["the run's token budget", context.budget?.maxTokens, spending.run.tokens, tokens],
		["the run's cost budget", context.budget?.maxCostUsd, spending.run.costUsd, usd],
		[
			"the workspace's monthly token limit",
			spending.monthlyTokenLimit,
			spending.month.tokens,
			tokens
		],
		[
			"the workspace's monthly cost limit",
			spending.monthlyCostLimitUsd,
			spending.month.costUsd,
			usd
		]
	];
	for (const [budget, limit, spent, format] of checks) {
		if (limit !== null && limit !== undefined && spent >= limit)
			throw exceeded(budget, format(limit), format(spent));
	}
}

/** A turn limit reached: the step ends without sending anything more. */
export function turnsExceeded(maxTurns: number): StepFailure {
	return new StepFailure(
		'budget_exceeded',
		`Budget exceeded: this agent step's turn limit is ${maxTurns} and all ${maxTurns} turns have been used; nothing more was sent to the model.`,
		{ retryable: false }
	);
}
