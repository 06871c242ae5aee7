import type { DefinitionProblem } from '../schemas/workflow.ts';

export type ServiceErrorType =
	'invalid' | 'unauthorized' | 'forbidden' | 'not-found' | 'conflict' | 'rate-limited';

const statusOf: Record<ServiceErrorType, number> = {
	invalid: 400,
	unauthorized: 401,
	forbidden: 403,
	'not-found': 404,
	conflict: 409,
	'rate-limited': 429
};

/** An expected failure with a message safe to show; routes turn it into a form message or problem+json. */
export class ServiceError extends Error {
	override name = 'ServiceError';
	readonly type: ServiceErrorType;
	readonly status: number;
	readonly fields: Record<string, string>;
	readonly retryAfterSeconds: number | undefined;

	constructor(
		type: ServiceErrorType,
		message: string,
		options: { fields?: Record<string, string>; retryAfterSeconds?: number } = {}
	) {
		super(message);
		this.type = type;
		this.status = statusOf[type];
		this.fields = options.fields ?? {};
		this.retryAfterSeconds = options.retryAfterSeconds;
	}
}

/** A definition that does not pass every check; `problems` lists each with its node and path. */
export class DefinitionError extends ServiceError {
	readonly problems: DefinitionProblem[];

	constructor(problems: DefinitionProblem[]) {
		super(
			'invalid',
			`The definition has ${problems.length} problem${problems.length === 1 ? '' : 's'}.`
		);
		this.problems = problems;
	}
}

export const notFound = (what = 'Not found') => new ServiceError('not-found', what);

/** A token without the scope (an ApiScope) an action needs. */
export const missingScope = (scope: string) =>
	new ServiceError('forbidden', `This token lacks the ${scope} scope.`);
