import { createMemoryRateLimiter } from '../../src/lib/server/auth/rate-limit.ts';
import { validateSessionToken } from '../../src/lib/server/auth/session.ts';
import type { Database } from '../../src/lib/server/db/index.ts';
import * as settings from '../../src/lib/server/db/settings.ts';
import { createCredentialKeyring } from '../../src/lib/server/credentials/keyring.ts';
import { createLogger } from '../../src/lib/server/platform/logger.ts';
import { builtInKinds, createKindRegistry } from '../../src/lib/server/engine/kinds/index.ts';
import { createInProcessBus } from '../../src/lib/server/bus/bus.ts';
import { signUp } from '../../src/lib/server/services/accounts.ts';
import { createTooling } from '../../src/lib/server/tools/tooling.ts';
import type { Principal, RequestMeta } from '../../src/lib/server/principal.ts';
import {
	createServiceContext,
	type ServiceContext
} from '../../src/lib/server/services/context.ts';
import { credentialLookup } from '../../src/lib/server/services/credentials.ts';
import { createClock, limiterOnClock } from './clock.ts';

export const testSecret = 'test-secret-key-that-is-long-enough-0123456789';
export const meta: RequestMeta = { ip: '203.0.113.7', userAgent: 'vitest' };

export function createTestServices(
	database: Database,
	clock = createClock()
): ServiceContext & { clock: ReturnType<typeof createClock> } {
	const keyring = createCredentialKeyring(testSecret);
	// The real built-in tools; the sandbox starts one runner on first use (idle runners do not keep
	// the process alive; files that run code close it).
	const tooling = createTooling({
		lookupCredential: credentialLookup({
			db: database.db,
			keys: { credentials: keyring },
			now: clock.now
		}),
		allow: [],
		codeRunners: 1
	});
	const services = createServiceContext({
		db: database.db,
		secretKey: testSecret,
		keyring,
		bcryptCost: 10,
		limiter: limiterOnClock(createMemoryRateLimiter(), clock),
		now: clock.now,
		logger: createLogger({ LOG_LEVEL: 'silent', NODE_ENV: 'test' }),
		kinds: createKindRegistry(builtInKinds),
		bus: createInProcessBus((error) => {
			throw error;
		}),
		tooling
	});
	return { ...services, clock };
}

let counter = 0;
export const strongPassword = 'correct horse battery staple 42';

/**
 * Signs up an active account (the first one becomes instance admin) and returns its session
 * principal. Without an invite, sign-up is opened for the call and the previous mode restored.
 */
export async function signUpUser(
	ctx: ServiceContext,
	options: { name?: string; inviteToken?: string } = {}
) {
	counter += 1;
	const name = options.name ?? `User ${counter}`;
	const email = `user${counter}-${Math.random().toString(36).slice(2, 8)}@example.com`;
	const previous = (await settings.get(ctx.db)).signupMode;
	if (!options.inviteToken) await settings.update(ctx.db, { signupMode: 'open' });
	const result = await signUp(
		ctx,
		{ email, name, password: strongPassword, inviteToken: options.inviteToken ?? null },
		// Each from an address of its own (198.18.0.0/15, for tests): fixtures are not what the
		// per-address sign-up limit is about.
		{ ...meta, ip: `198.18.${(counter >> 8) & 255}.${counter & 255}` }
	).finally(() => settings.update(ctx.db, { signupMode: previous }));
	if (result.status !== 'active')
		throw new Error(`expected an active account, got ${result.status}`);
	return { ...result, email, principal: await principalFor(ctx, result.token) };
}

/** The principal a request carrying this session token would have. */
export async function principalFor(ctx: ServiceContext, token: string): Promise<Principal> {
	const valid = await validateSessionToken(ctx.db, token, ctx.now());
	if (!valid) throw new Error('session token is not valid');
	return { kind: 'session', user: valid.user, session: valid.session };
}
