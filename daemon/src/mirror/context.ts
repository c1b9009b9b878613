import type { IncomingMessage } from 'node:http';

/** What a handler learnt about a request, for the one log line written when the response closes. */
export interface RequestLog {
  registry?: string;
  digest?: string;
  /** `cache`, `origin`, or another blob source's name. */
  source?: string;
  bytes: number;
}

/** The client's headers a mirror forwards upstream. Accept may arrive as several lines (skopeo sends six). */
export interface ForwardedHeaders {
  accept?: string[];
  authorization?: string;
}

export function forwardedHeaders(req: IncomingMessage): ForwardedHeaders {
  const accept = req.headersDistinct['accept'];
  const authorization = req.headers['authorization'];
  return {
    ...(accept && accept.length > 0 ? { accept } : {}),
    ...(authorization ? { authorization } : {}),
  };
}
