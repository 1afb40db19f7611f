/** A small flag parser: `--name value`, `--name=value`, boolean `--flag`; the rest are positionals. */
export interface Parsed {
  flags: Map<string, string>;
  positionals: string[];
}

/**
 * With `known`, an unknown flag is refused at once, naming it (before it could swallow the next
 * argument as its value).
 */
export function parseArgs(argv: string[], booleans: string[] = [], known?: string[], verb = ''): Parsed {
  const flags = new Map<string, string>();
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    const m = /^--?([A-Za-z][\w-]*)(?:=(.*))?$/.exec(a);
    if (!m) {
      positionals.push(a);
      continue;
    }
    const [, name, inline] = m;
    if (known && !known.includes(name)) throw unknownFlag(name, known, verb);
    if (inline !== undefined) flags.set(name, inline);
    else if (booleans.includes(name)) flags.set(name, 'true');
    else {
      if (i + 1 >= argv.length) throw new Error(`flag --${name} needs a value`);
      flags.set(name, argv[++i]);
    }
  }
  return { flags, positionals };
}

/**
 * A boolean flag's value, as Go's pflag reads `--flag`, `--flag=true|false` (and 1/0, t/f):
 * `fallback` when the flag is absent; anything else is refused, naming the flag.
 */
export function booleanFlag(value: string | undefined, name: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (['true', 't', 'T', 'TRUE', 'True', '1'].includes(value)) return true;
  if (['false', 'f', 'F', 'FALSE', 'False', '0'].includes(value)) return false;
  throw new Error(`invalid argument ${JSON.stringify(value)} for "--${name}" flag: want true or false`);
}

function unknownFlag(name: string, known: string[], verb: string): Error {
  return new Error(`unknown flag: --${name} (podbay ${verb} accepts: ${known.map((f) => '--' + f).join(', ')})`);
}

/** Refuse flags a verb does not know, naming them (as kubectl does). */
export function checkFlags(p: Parsed, known: string[], verb: string): void {
  for (const k of p.flags.keys()) if (!known.includes(k)) throw unknownFlag(k, known, verb);
}
