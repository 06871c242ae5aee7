/**
 * A body refused for its size. Answer 413 with `connection: close`: the rest of the body is left
 * unread, so the connection cannot carry another request.
 */
export class BodyTooLargeError extends Error {
	override name = 'BodyTooLargeError';
	readonly status = 413;
	readonly type = 'too-large';

	constructor(maxBytes: number) {
		super(`The body is larger than ${maxBytes} bytes.`);
	}
}

/** Reads the body, refusing it as soon as it is over `maxBytes` (whatever Content-Length said). */
export async function readBody(request: Request, maxBytes: number): Promise<Buffer> {
	const declared = Number(request.headers.get('content-length') ?? 0);
	if (declared > maxBytes) throw new BodyTooLargeError(maxBytes);
	if (request.body === null) return Buffer.alloc(0);
	const reader = request.body.getReader();
	const chunks: Uint8Array[] = [];
	let total = 0;
	for (;;) {
		const { done, value } = await reader.read();
		if (done) break;
		total += value.byteLength;
		// Not cancelled: that would destroy the socket before the 413 is written (the route closes it).
		if (total > maxBytes) throw new BodyTooLargeError(maxBytes);
		chunks.push(value);
	}
	return Buffer.concat(chunks);
}
