import { describe, expect, it } from 'vitest';
import { BodyTooLargeError, readBody } from './read-body.ts';

const cap = 1024;

function post(body: BodyInit | null, headers: Record<string, string> = {}) {
	return new Request('http://localhost/hooks/x', {
		method: 'POST',
		body,
		headers,
		duplex: 'half'
	} as RequestInit);
}

/** A body sent in pieces with no Content-Length, as a chunked upload arrives. */
function streamed(pieces: string[]) {
	const queue = pieces.map((piece) => new TextEncoder().encode(piece));
	return new ReadableStream<Uint8Array>({
		pull(controller) {
			const next = queue.shift();
			if (next === undefined) controller.close();
			else controller.enqueue(next);
		}
	});
}

async function refusal(promise: Promise<unknown>) {
	const error = await promise.then(
		() => null,
		(reason: unknown) => reason
	);
	expect(error).toBeInstanceOf(BodyTooLargeError);
	return error as BodyTooLargeError;
}

describe('readBody', () => {
	it('returns a body of exactly the cap, byte for byte', async () => {
		const body = 'é'.repeat(cap / 2);
		const read = await readBody(post(body), cap);
		expect(read.byteLength).toBe(cap);
		expect(read.toString('utf8')).toBe(body);
		const pieces = await readBody(post(streamed(['a'.repeat(1000), 'b'.repeat(24)])), cap);
		expect(pieces.byteLength).toBe(cap);
	});

	it('refuses one byte over the cap as a 413 too-large', async () => {
		const error = await refusal(readBody(post('x'.repeat(cap + 1)), cap));
		expect(error).toMatchObject({
			status: 413,
			type: 'too-large',
			message: 'The body is larger than 1024 bytes.'
		});
		await refusal(readBody(post(streamed(['x'.repeat(cap), 'y'])), cap));
	});

	it('refuses on a declared Content-Length over the cap without reading the body', async () => {
		const request = post('{}', { 'content-length': String(cap + 1) });
		await refusal(readBody(request, cap));
		expect(request.bodyUsed).toBe(false);
	});

	it('counts what arrives when Content-Length understates it', async () => {
		await refusal(readBody(post('x'.repeat(cap * 2), { 'content-length': '10' }), cap));
	});

	it('stops reading a body that never ends once it is over the cap', async () => {
		let pulled = 0;
		const endless = new ReadableStream<Uint8Array>({
			pull(controller) {
				pulled += 1;
				controller.enqueue(new Uint8Array(256));
			}
		});
		await refusal(readBody(post(endless), cap));
		// Refused at the fifth piece; the stream may have queued one more ahead of the reader.
		expect(pulled).toBeLessThanOrEqual(6);
	});

	it('reads an absent or empty body as zero bytes', async () => {
		expect((await readBody(post(null), cap)).byteLength).toBe(0);
		expect((await readBody(post(''), cap)).byteLength).toBe(0);
		expect((await readBody(post('', { 'content-length': '0' }), cap)).byteLength).toBe(0);
	});
});
