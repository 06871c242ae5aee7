import { describe, expect, it } from 'vitest';
import { allowListMatcher } from './allow-list.ts';
import { HttpAllowListError, parseHttpAllowList } from '../platform/http-allow.ts';

function problemOf(value: string): string {
	try {
		parseHttpAllowList(value);
	} catch (error) {
		expect(error).toBeInstanceOf(HttpAllowListError);
		return (error as Error).message;
	}
	throw new Error('expected the allow list to be rejected');
}

describe('parseHttpAllowList', () => {
	it('allows nothing when empty', () => {
		expect(parseHttpAllowList('')).toEqual([]);
		expect(parseHttpAllowList(' , ')).toEqual([]);
	});

	it('reads host:port entries, normalising hosts as URLs do', () => {
		expect(
			parseHttpAllowList(
				'127.0.0.1:11434, localhost:8080,[::1]:80 ,Ollama.Internal:443,0x7f.1:9000,[0:0::1]:1,'
			)
		).toEqual([
			{ host: '127.0.0.1', port: 11434 },
			{ host: 'localhost', port: 8080 },
			{ host: '[::1]', port: 80 },
			{ host: 'ollama.internal', port: 443 },
			{ host: '127.0.0.1', port: 9000 },
			{ host: '[::1]', port: 1 }
		]);
	});

	it.each([
		['localhost', 'entry "localhost" needs a port: write host:port, such as'],
		['::1', 'entry "::1" needs brackets around the IPv6 address, then a port, such as [::1]:8080'],
		['::1:8080', 'entry "::1:8080" needs brackets around the IPv6 address'],
		['fe80::1:80', 'entry "fe80::1:80" needs brackets around the IPv6 address'],
		[':8080', 'entry ":8080" has no host'],
		['a:1:2', 'entry "a:1:2" must be host:port'],
		['[::1]:80:90', 'entry "[::1]:80:90" must be host:port'],
		['localhost:0', 'entry "localhost:0" has a port outside 1 to 65535'],
		['localhost:65536', 'entry "localhost:65536" has a port outside 1 to 65535'],
		['localhost:http', 'entry "localhost:http" needs a port'],
		['http://localhost:8080', 'entry "http://localhost:8080" must be host:port without a scheme'],
		['localhost:8080/api', 'must be host:port without a scheme or path'],
		['*:8080', 'entry "*:8080" has a wildcard'],
		['exa mple.com:80', 'entry "exa mple.com:80" has a host that is not valid'],
		['[::1:80', 'entry "[::1:80" must be host:port'],
		['[nonsense]:80', 'entry "[nonsense]:80" has a host that is not valid']
	])('rejects %j with a message that reads after the variable name', (value, expected) => {
		expect(problemOf(`127.0.0.1:1,${value}`)).toContain(expected);
	});

	it('never echoes a user name or password', () => {
		const message = problemOf('admin:hunter2@localhost:8080');
		expect(message).toBe('entries must be host:port, without a user name or password');
		expect(message).not.toContain('hunter2');
	});
});

describe('allowListMatcher', () => {
	const allowed = allowListMatcher(parseHttpAllowList('localhost:8080,127.0.0.1:11434,[::1]:9000'));

	it('matches a name entry on the URL host and port only', () => {
		expect(allowed.host('localhost', 8080)).toBe(true);
		expect(allowed.host('localhost', 8081)).toBe(false);
		expect(allowed.host('localhost.', 8080)).toBe(false);
		expect(allowed.host('127.0.0.1', 11434)).toBe(false);
	});

	it('matches an IP entry on the connected address and port, however it is written', () => {
		expect(allowed.address('127.0.0.1', 11434)).toBe(true);
		expect(allowed.address('127.0.0.1', 8080)).toBe(false);
		expect(allowed.address('127.0.0.2', 11434)).toBe(false);
		expect(allowed.address('0:0:0:0:0:0:0:1', 9000)).toBe(true);
		expect(allowed.address('::1', 11434)).toBe(false);
	});
});
