/**
 * A Node system error worded as Go's *PathError prints it ("mkdir /a/b: not a directory"), which
 * is how the kubelet's events and statuses show the same failure. Node writes it as
 * "ENOTDIR: not a directory, mkdir '/a/b'"; other errors keep their message.
 */
export function osErrorText(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  const message = String(err?.message ?? e);
  const m = /^E[A-Z0-9]+: (.*?), (\w+) '(.*)'$/s.exec(message);
  if (!m) return message;
  const [, text, syscall, path] = m;
  return `${syscall} ${path}: ${text}`;
}
