import { createTOTPKeyURI, verifyHOTP } from '@oslojs/otp';
import { randomBytes } from 'node:crypto';
import { decryptText, encryptText, randomToken, sha256Hex } from '../platform/crypto.ts';

// RFC 6238 defaults that every authenticator app understands.
const period = 30;
const digits = 6;

export function generateTotpKey(): Uint8Array {
	return new Uint8Array(randomBytes(20));
}

export function totpUri(key: Uint8Array, accountName: string): string {
	return createTOTPKeyURI('AWE', accountName, key, period, digits);
}

/**
 * The time step (30-second window) whose code this is: the current one, or the one before or after
 * it (clock drift); null when it matches none. Callers claim the step so a code works only once.
 */
export function matchTotpStep(key: Uint8Array, code: string, now = Date.now()): number | null {
	const normalized = code.replace(/\s/g, '');
	if (!/^\d{6}$/.test(normalized)) return null;
	const current = Math.floor(now / 1000 / period);
	for (const step of [current - 1, current, current + 1]) {
		if (verifyHOTP(key, BigInt(step), digits, normalized)) return step;
	}
	return null;
}

export function sealTotpKey(encryptionKey: Buffer, key: Uint8Array): string {
	return encryptText(encryptionKey, Buffer.from(key).toString('base64'));
}

export function openTotpKey(encryptionKey: Buffer, sealed: string): Uint8Array {
	return new Uint8Array(Buffer.from(decryptText(encryptionKey, sealed), 'base64'));
}

/** Ten single-use codes of 80 bits each, shown once; only their hashes are kept. */
export function generateRecoveryCodes(): string[] {
	return Array.from({ length: 10 }, () => randomToken(10).replace(/(.{4})(?=.)/g, '$1-'));
}

export function recoveryCodeHash(code: string): string {
	return sha256Hex(code.toLowerCase().replace(/[^a-z2-7]/g, ''));
}
