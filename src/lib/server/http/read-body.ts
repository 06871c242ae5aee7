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
		// Released, so the route may drop the rest (drainRefusedBody).
		if (total > maxBytes) {
			reader.releaseLock();
			throw new BodyTooLargeError(maxBytes);
		}
		chunks.push(value);
	}
	return Buffer.concat(chunks);
}

/**
 * How much of a refused body is still read and dropped before the 413 is sent, and for how long.
 * A client still sending when the server closes the connection gets a broken pipe instead of the
 * answer: a body only somewhat too large is read to its end so that the sender hears why; a huge
 * one is cut off.
 */
const linger = { bytes: 256 * 1024, ms: 2_000 };

/** After a BodyTooLargeError: reads and drops what is left of the body, within `linger`. */
export async function drainRefusedBody(request: Request): Promise<void> {
	if (request.body === null || request.body.locked) return;
	const reader = request.body.getReader();
	let timer: NodeJS.Timeout | undefined;
	const timeUp = new Promise<'time'>((resolve) => {
		timer = setTimeout(() => resolve('time'), linger.ms);
	});
	try {
		for (let read = 0; read <= linger.bytes;) {
			const next = await Promise.race([reader.read(), timeUp]);
			if (next === 'time' || next.done) return;
			read += next.value.byteLength;
		}
	} finally {
		clearTimeout(timer);
		// Never cancelled: that would destroy the socket before the 413 is written.
		reader.releaseLock();
	}
}
