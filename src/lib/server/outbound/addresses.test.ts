import { describe, expect, it } from 'vitest';
import { blockedRange } from './addresses.ts';

describe('blockedRange', () => {
	it.each([
		['0.0.0.0', '"this network"'],
		['0.1.2.3', '"this network"'],
		['10.0.0.1', 'private network'],
		['10.255.255.255', 'private network'],
		['172.16.0.1', 'private network'],
		['172.31.255.255', 'private network'],
		['192.168.1.1', 'private network'],
		['100.64.0.1', 'carrier-grade NAT'],
		['100.100.100.200', 'carrier-grade NAT'],
		['100.127.255.255', 'carrier-grade NAT'],
		['127.0.0.1', 'loopback'],
		['127.255.255.254', 'loopback'],
		['169.254.169.254', 'cloud metadata'],
		['169.254.0.1', 'link-local'],
		['192.0.0.192', 'IETF protocol assignments'],
		['192.0.2.1', 'documentation'],
		['198.51.100.7', 'documentation'],
		['203.0.113.9', 'documentation'],
		['192.88.99.1', '6to4 relay anycast'],
		['198.18.0.1', 'benchmarking'],
		['198.19.255.255', 'benchmarking'],
		['224.0.0.1', 'multicast'],
		['239.255.255.250', 'multicast'],
		['240.0.0.1', 'reserved'],
		['255.255.255.255', 'broadcast']
	])('blocks IPv4 %s (%s)', (address, range) => {
		expect(blockedRange(address)).toBe(range);
	});

	it.each([
		['::', 'unspecified'],
		['::1', 'loopback'],
		['0:0:0:0:0:0:0:1', 'loopback'],
		['::7f00:1', 'IPv4-compatible'],
		['::808:808', 'IPv4-compatible'],
		['100::1', 'discard-only'],
		['64:ff9b:1::a00:1', 'local-use NAT64'],
		['2001::1', 'Teredo'],
		['2001:2::1', 'benchmarking'],
		['2001:10::1', 'ORCHID'],
		['2001:db8::1', 'documentation'],
		['3fff::1', 'documentation'],
		['fd00:ec2::254', 'cloud metadata'],
		['fc00::1', 'unique-local'],
		['fd12:3456::1', 'unique-local'],
		['fec0::1', 'site-local'],
		['fe80::1', 'link-local'],
		['fe80::1%eth0', 'link-local'],
		['ff02::1', 'multicast'],
		['::1:0:0:0', 'reserved'],
		['4000::1', 'reserved'],
		['e000::1', 'reserved']
	])('blocks IPv6 %s (%s)', (address, range) => {
		expect(blockedRange(address)).toBe(range);
	});

	it.each([
		['::ffff:127.0.0.1', 'loopback, IPv4-mapped'],
		['::ffff:7f00:1', 'loopback, IPv4-mapped'],
		['::ffff:a9fe:a9fe', 'cloud metadata, IPv4-mapped'],
		['::ffff:10.1.2.3', 'private network, IPv4-mapped'],
		['::ffff:0.0.0.0', '"this network", IPv4-mapped'],
		['::ffff:0:7f00:1', 'loopback, IPv4-translated'],
		['64:ff9b::7f00:1', 'loopback, NAT64'],
		['64:ff9b::192.168.0.1', 'private network, NAT64'],
		['2002:7f00:1::', 'loopback, 6to4'],
		['2002:a9fe:a9fe::1', 'cloud metadata, 6to4'],
		['2002:c0a8:101::1', 'private network, 6to4']
	])('blocks %s, which carries a blocked IPv4 address (%s)', (address, range) => {
		expect(blockedRange(address)).toBe(range);
	});

	it.each([
		'8.8.8.8',
		'1.1.1.1',
		'93.184.215.14',
		'172.15.255.255',
		'172.32.0.0',
		'100.63.255.255',
		'100.128.0.0',
		'169.253.255.255',
		'198.17.255.255',
		'198.20.0.0',
		'223.255.255.255',
		'2606:4700:4700::1111',
		'2001:4860:4860::8888',
		'2a00:1450:4001:80b::200e',
		'::ffff:8.8.8.8',
		'::ffff:0:808:808',
		'64:ff9b::808:808',
		'2002:808:808::1'
	])('lets the public address %s through', (address) => {
		expect(blockedRange(address)).toBeNull();
	});

	it.each(['localhost', '', '0x7f.1', '127.1', '2130706433', '[::1]', '1.2.3.4.5'])(
		'counts %j, which is no IP address in canonical form, as blocked',
		(text) => {
			expect(blockedRange(text)).toBe('not an IP address');
		}
	);
});
