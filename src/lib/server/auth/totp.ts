import { createTOTPKeyURI, verifyTOTPWithGracePeriod } from '@oslojs/otp';
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

/** Accepts the current code and the one before or after it (clock drift). */
export function verifyTotp(key: Uint8Array, code: string): boolean {
	const normalized = code.replace(/\s/g, '');
	return (
		/^\d{6}$/.test(normalized) && verifyTOTPWithGracePeriod(key, period, digits, normalized, period)
	);
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
