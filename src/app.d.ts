// See https://svelte.dev/docs/kit/types#app.d.ts
import type { Runtime } from '$lib/server/runtime';
import type { Principal } from '$lib/server/principal';

declare global {
	namespace App {
		interface Error {
			message: string;
			requestId?: string;
		}
		interface Locals {
			requestId: string;
			runtime: Runtime;
			/** Who is acting; null when anonymous. */
			principal: Principal | null;
			/** An Authorization header was sent and did not hold a live token. */
			bearerRejected?: boolean;
			/** A session cookie was sent that no longer names a live session. */
			staleSessionCookie?: boolean;
		}
	}
}

export {};
