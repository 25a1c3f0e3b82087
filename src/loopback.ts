/** This machine: localhost, 127.0.0.0/8, ::1, or a Unix socket path. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase()
  return h === '' || h === 'localhost' || h === '::1' || /^127\./.test(h) || h.startsWith('/')
}
