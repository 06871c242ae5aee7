import { describe, expect, it } from 'vitest';
import { deriveKey } from '../platform/crypto.ts';
import { commonPasswordCount } from './common-passwords.ts';
import { hashPassword, passwordProblem, verifyPassword } from './password.ts';

const pepper = deriveKey('x'.repeat(40), 'password-pepper');

describe('passwords', () => {
	it('tell apart two long passwords that differ only after byte 72', async () => {
		const prefix = 'a'.repeat(80);
		const hash = await hashPassword(`${prefix}-one`, pepper, 10);
		expect(await verifyPassword(`${prefix}-one`, hash, pepper)).toBe(true);
		expect(await verifyPassword(`${prefix}-two`, hash, pepper)).toBe(false);
	});

	it('use bcrypt with the configured cost and a pepper', async () => {
		const hash = await hashPassword('a fine passphrase', pepper, 11);
		expect(hash).toMatch(/^\$2b\$11\$/);
		const otherPepper = deriveKey('y'.repeat(40), 'password-pepper');
		expect(await verifyPassword('a fine passphrase', hash, otherPepper)).toBe(false);
	});

	it('accept 8 to 256 characters with no composition rules', () => {
		expect(passwordProblem('short')).toMatch(/at least 8/);
		expect(passwordProblem('x'.repeat(257))).toMatch(/at most 256/);
		expect(passwordProblem('plain lowercase words only')).toBeNull();
		expect(passwordProblem('🔒'.repeat(8))).toBeNull();
	});

	it('reject the most common passwords, whatever their case', () => {
		expect(commonPasswordCount()).toBeGreaterThanOrEqual(10_000);
		expect(passwordProblem('password')).toMatch(/too common/);
		expect(passwordProblem('Password1')).toMatch(/too common/);
		expect(passwordProblem('QWERTYUIOP')).toMatch(/too common/);
	});
});
