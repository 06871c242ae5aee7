import { decryptText, deriveKey, encryptText } from '../platform/crypto.ts';

/**
 * The credential key of each version, derived from the server secret on first use. Rotation moves
 * to the next version rather than to a new server secret, which also derives the password pepper.
 */
export type CredentialKeyring = (version: number) => Buffer;

export function createCredentialKeyring(secretKey: string): CredentialKeyring {
	const keys = new Map<number, Buffer>();
	return (version) => {
		if (!Number.isSafeInteger(version) || version < 1)
			throw new Error(`no credential key version ${version}`);
		let key = keys.get(version);
		if (!key) keys.set(version, (key = deriveKey(secretKey, `credentials:v${version}`)));
		return key;
	};
}

/** Which row a sealed secret belongs to: authenticated with it, so it cannot be moved to another. */
type SealedFor = { id: string; workspaceId: string };

const boundTo = (row: SealedFor) => `credential:${row.workspaceId}:${row.id}`;

export function sealSecret(
	keyring: CredentialKeyring,
	version: number,
	row: SealedFor,
	secret: string
): string {
	return encryptText(keyring(version), secret, boundTo(row));
}

/** A stored secret that does not decrypt: the server secret changed, or the row was altered. */
export class UnreadableCredentialError extends Error {
	override name = 'UnreadableCredentialError';

	constructor(credentialId: string) {
		super(
			`Credential ${credentialId} cannot be decrypted: the server secret changed or the stored value was altered.`
		);
	}
}

export function openSecret(
	keyring: CredentialKeyring,
	row: SealedFor & { sealedSecret: string; keyVersion: number }
): string {
	try {
		return decryptText(keyring(row.keyVersion), row.sealedSecret, boundTo(row));
	} catch {
		throw new UnreadableCredentialError(row.id);
	}
}
