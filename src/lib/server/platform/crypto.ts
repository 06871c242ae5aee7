import { encodeBase32LowerCaseNoPadding } from '@oslojs/encoding';
import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';

/** A key for one purpose, derived from the server secret (HKDF-SHA-256), so purposes never share keys. */
export function deriveKey(secretKey: string, purpose: string): Buffer {
	return Buffer.from(hkdfSync('sha256', secretKey, 'awe', purpose, 32));
}

export function sha256Hex(text: string): string {
	return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** Random bytes as lower-case base32: ≥ 128 bits for anything that authenticates. */
export function randomToken(bytes = 20): string {
	return encodeBase32LowerCaseNoPadding(randomBytes(bytes));
}

const version = 'v1';

/**
 * AES-256-GCM with a random 96-bit IV; the output carries version, IV and tag. Associated data (say,
 * the row the value belongs to) is authenticated too: decrypting needs the same, so a ciphertext
 * copied elsewhere does not open.
 */
export function encryptText(key: Buffer, plaintext: string, associatedData?: string): string {
	const iv = randomBytes(12);
	const cipher = createCipheriv('aes-256-gcm', key, iv);
	if (associatedData !== undefined) cipher.setAAD(Buffer.from(associatedData, 'utf8'));
	const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
	return [
		version,
		iv.toString('base64url'),
		cipher.getAuthTag().toString('base64url'),
		ciphertext.toString('base64url')
	].join('.');
}

export function decryptText(key: Buffer, sealed: string, associatedData?: string): string {
	const [tag, iv, authTag, ciphertext] = sealed.split('.');
	if (tag !== version || !iv || !authTag || ciphertext === undefined)
		throw new Error('unreadable ciphertext');
	// A full 128-bit tag only: GCM would otherwise accept a truncated one, which is easier to forge.
	const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'), {
		authTagLength: 16
	});
	if (associatedData !== undefined) decipher.setAAD(Buffer.from(associatedData, 'utf8'));
	decipher.setAuthTag(Buffer.from(authTag, 'base64url'));
	return Buffer.concat([
		decipher.update(Buffer.from(ciphertext, 'base64url')),
		decipher.final()
	]).toString('utf8');
}
