import { apiScopeNames } from '../../schemas/tokens.ts';
import type { DefinitionProblem } from '../../schemas/workflow.ts';
import type { ApiToken, Session, User } from '../db/schema/index.ts';
import type { Db } from '../db/index.ts';
import type { RateLimiter } from '../auth/rate-limit.ts';
import type { CredentialKeyring } from '../credentials/keyring.ts';
import type { Logger } from '../platform/logger.ts';
import type { KindRegistry } from '../engine/definition.ts';
import type { EventBus } from '../realtime/bus.ts';
import type { SandboxPool } from '../sandbox/pool.ts';
import type { ToolRegistry } from '../tools/registry.ts';

/** What every service function works with; tests build one around a fresh database and a fake clock. */
export interface ServiceContext {
	db: Db;
	keys: {
		pepper: Buffer;
		totp: Buffer;
		triggers: Buffer;
		/** Signs realtime tickets (HS256). */
		realtime: Buffer;
		credentials: CredentialKeyring;
	};
	bcryptCost: number;
	limiter: RateLimiter;
	now: () => Date;
	logger: Logger;
	/** Node kinds definitions are checked against and workers execute. */
	kinds: KindRegistry;
	/** Where committed run events are published for live views. */
	bus: EventBus;
	/** The built-in tools, and the sandbox a workspace's custom tools run in. */
	tools: { registry: ToolRegistry; sandbox: SandboxPool };
}

/** Where a request came from, for the audit log and throttling. */
export interface RequestMeta {
	ip: string | null;
	userAgent: string | null;
}

// One list for forms, the API and the policy.
export const apiScopes = apiScopeNames;
export type ApiScope = (typeof apiScopes)[number];

/** Who is acting: a signed-in browser session, or a personal access token. */
export type Principal =
	| { kind: 'session'; user: User; session: Session }
	| { kind: 'token'; user: User; token: ApiToken; scopes: readonly ApiScope[] };

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

export const missingScope = (scope: ApiScope) =>
	new ServiceError('forbidden', `This token lacks the ${scope} scope.`);
