import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';

export interface ReceivedRequest {
	method: string;
	url: string;
	headers: http.IncomingHttpHeaders;
	body: string;
}

export interface TestServer {
	port: number;
	/** Every request that reached the server, in order. */
	received: ReceivedRequest[];
	close(): Promise<void>;
}

type Handler = (
	request: ReceivedRequest,
	response: http.ServerResponse,
	incoming: http.IncomingMessage
) => void;

/** A local HTTP server (HTTPS with `tls`) for the outbound client's tests and benchmark. */
export async function startTestServer(
	handler: Handler,
	options: { host?: string; tls?: https.ServerOptions } = {}
): Promise<TestServer> {
	const received: ReceivedRequest[] = [];
	const listener = (incoming: http.IncomingMessage, response: http.ServerResponse) => {
		const chunks: Buffer[] = [];
		incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
		incoming.on('end', () => {
			const request = {
				method: incoming.method ?? '',
				url: incoming.url ?? '',
				headers: incoming.headers,
				body: Buffer.concat(chunks).toString()
			};
			received.push(request);
			handler(request, response, incoming);
		});
	};
	const server = options.tls
		? https.createServer(options.tls, listener)
		: http.createServer(listener);
	await new Promise<void>((resolve, reject) => {
		server.once('error', reject);
		server.listen(0, options.host ?? '127.0.0.1', resolve);
	});
	return {
		port: (server.address() as AddressInfo).port,
		received,
		close: () =>
			new Promise((resolve) => {
				server.closeAllConnections();
				server.close(() => resolve());
			})
	};
}
