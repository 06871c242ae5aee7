import type { Db } from '../db/index.ts';
import type { RateLimiter } from '../auth/rate-limit.ts';
import type { CredentialKeyring } from '../credentials/keyring.ts';
import { deriveKey } from '../platform/crypto.ts';
import type { Logger } from '../platform/logger.ts';
import type { KindRegistry } from '../engine/definition.ts';
import type { EventBus } from '../bus/bus.ts';
import type { SandboxPool } from '../sandbox/pool.ts';
import type { GuardedHttp } from '../outbound/guarded-http.ts';
import type { ToolRegistry } from '../tools/registry.ts';
import type { Tooling } from '../tools/tooling.ts';

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
	/**
	 * The built-in tools, the sandbox a workspace's custom tools run in, and the guarded outbound
	 * client (what a provider's connection test goes through).
	 */
	tools: { registry: ToolRegistry; sandbox: SandboxPool; http: GuardedHttp };
}

/** A service context around these parts; each purpose gets its own key derived from the secret. */
export function createServiceContext(
	parts: Omit<ServiceContext, 'keys' | 'tools'> & {
		secretKey: string;
		keyring: CredentialKeyring;
		tooling: Pick<Tooling, 'tools' | 'sandbox' | 'http'>;
	}
): ServiceContext {
	const { secretKey, keyring, tooling, ...rest } = parts;
	return {
		...rest,
		keys: {
			pepper: deriveKey(secretKey, 'password-pepper'),
			totp: deriveKey(secretKey, 'totp-key-encryption'),
			triggers: deriveKey(secretKey, 'trigger-secret-encryption'),
			realtime: deriveKey(secretKey, 'realtime-ticket'),
			credentials: keyring
		},
		tools: { registry: tooling.tools, sandbox: tooling.sandbox, http: tooling.http }
	};
}
