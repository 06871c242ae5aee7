import { apiScopeNames } from '../schemas/tokens.ts';
import type { ApiToken, Session, User } from './db/schema/index.ts';
import { ServiceError } from './errors.ts';

// One list for forms, the API and the policy.
export const apiScopes = apiScopeNames;
export type ApiScope = (typeof apiScopes)[number];

/** Who is acting: a signed-in browser session, or a personal access token. */
export type Principal =
	| { kind: 'session'; user: User; session: Session }
	| { kind: 'token'; user: User; token: ApiToken; scopes: readonly ApiScope[] };

/** What the system does on its own, after authorizing it some other way. */
export type SystemOrigin = 'webhook' | 'schedule';

const systemBrand: unique symbol = Symbol('awe.system-principal');

/**
 * The acting principal of work no person started (a webhook checked by its token or signature, a
 * due schedule): authorization already happened. Only `systemPrincipal()` makes one, so it cannot be
 * passed by accident the way `null` could.
 */
export interface SystemPrincipal {
	readonly kind: 'system';
	readonly origin: SystemOrigin;
	readonly [systemBrand]: true;
}

export function systemPrincipal(origin: SystemOrigin): SystemPrincipal {
	return Object.freeze({ kind: 'system', origin, [systemBrand]: true } as const);
}

/**
 * The person acting, or null when the system is; anything that merely looks like a system
 * principal (not made by `systemPrincipal()`) is refused rather than trusted.
 */
export function personActing(actor: Principal | SystemPrincipal): Principal | null {
	if (actor.kind !== 'system') return actor;
	if ((actor as Partial<SystemPrincipal>)[systemBrand] !== true)
		throw new ServiceError('unauthorized', 'Not a principal.');
	return null;
}

/** Where a request came from, for the audit log and throttling. */
export interface RequestMeta {
	ip: string | null;
	userAgent: string | null;
}
