import { hash, verify } from '@node-rs/bcrypt';
import { createHmac } from 'node:crypto';
import { isCommonPassword } from './common-passwords.ts';

export const passwordLength = { min: 8, max: 256 } as const;

/** Why a new password is unacceptable, or null. No composition rules (NIST SP 800-63B). */
export function passwordProblem(password: string): string | null {
	const length = [...password].length;
	if (length < passwordLength.min) return `Use at least ${passwordLength.min} characters.`;
	if (length > passwordLength.max) return `Use at most ${passwordLength.max} characters.`;
	if (isCommonPassword(password)) return 'This password is too common; choose another.';
	return null;
}

/**
 * bcrypt reads only the first 72 bytes. Hashing an HMAC-SHA-256 of the password (44 base64
 * characters) keeps every byte significant, and the server-side pepper makes a stolen table alone useless.
 */
function prehash(password: string, pepper: Buffer): string {
	return createHmac('sha256', pepper).update(password.normalize('NFC'), 'utf8').digest('base64');
}

export async function hashPassword(
	password: string,
	pepper: Buffer,
	cost: number
): Promise<string> {
	return hash(prehash(password, pepper), { cost });
}

export async function verifyPassword(
	password: string,
	passwordHash: string,
	pepper: Buffer
): Promise<boolean> {
	return verify(prehash(password, pepper), passwordHash);
}
