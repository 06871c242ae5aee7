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

/** AES-256-GCM with a random 96-bit IV; the output carries version, IV and tag. */
export function encryptText(key: Buffer, plaintext: string): string {
	const iv = randomBytes(12);
	const cipher = createCipheriv('aes-256-gcm', key, iv);
	const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
	return [
		version,
		iv.toString('base64url'),
		cipher.getAuthTag().toString('base64url'),
		ciphertext.toString('base64url')
	].join('.');
}

export function decryptText(key: Buffer, sealed: string): string {
	const [tag, iv, authTag, ciphertext] = sealed.split('.');
	if (tag !== version || !iv || !authTag || ciphertext === undefined)
		throw new Error('unreadable ciphertext');
	const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
	decipher.setAuthTag(Buffer.from(authTag, 'base64url'));
	return Buffer.concat([
		decipher.update(Buffer.from(ciphertext, 'base64url')),
		decipher.final()
	]).toString('utf8');
}
