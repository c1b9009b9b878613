/** One WWW-Authenticate challenge: the scheme (lower-case) and its auth-params (names lower-case). */
export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

const PARAM = /\s*([A-Za-z0-9_-]+)\s*=\s*("((?:[^"\\]|\\.)*)"|[^,\s]*)\s*,?/y;

/** Parses the first challenge of a WWW-Authenticate header, e.g. `Bearer realm="…",service="…",scope="…"`. */
export function parseChallenge(header: string | undefined): Challenge | undefined {
  const match = header?.match(/^\s*([A-Za-z][A-Za-z0-9_-]*)(?:\s+|$)/);
  if (!header || !match) return undefined;
  const params: Record<string, string> = {};
  PARAM.lastIndex = match[0].length;
  for (let m = PARAM.exec(header); m; m = PARAM.exec(header)) {
    params[m[1]!.toLowerCase()] = m[3] !== undefined ? m[3].replace(/\\(.)/g, '$1') : m[2]!;
  }
  return { scheme: match[1]!.toLowerCase(), params };
}
