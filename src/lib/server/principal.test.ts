import { describe, expect, it } from 'vitest';
import { ServiceError } from './errors.ts';
import { personActing, systemPrincipal, type SystemPrincipal } from './principal.ts';

describe('system principal', () => {
	it('is made only by systemPrincipal(); a look-alike is refused, not trusted', () => {
		const system = systemPrincipal('webhook');
		expect(Object.isFrozen(system)).toBe(true);
		expect(system).toMatchObject({ kind: 'system', origin: 'webhook' });
		expect(personActing(system)).toBeNull();

		const forged = { kind: 'system', origin: 'webhook' } as unknown as SystemPrincipal;
		expect(() => personActing(forged)).toThrow(ServiceError);
		const copied = { ...system } as SystemPrincipal;
		// The brand is a symbol: spreading keeps it, JSON (what a request body would be) does not.
		expect(personActing(copied)).toBeNull();
		const parsed = JSON.parse(JSON.stringify(system)) as SystemPrincipal;
		expect(() => personActing(parsed)).toThrow('Not a principal.');
	});
});
