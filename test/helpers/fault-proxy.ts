/**
 * An HTTP proxy on 127.0.0.1 in front of a real registry that misbehaves on command, the
 * way proxies, load balancers and flaky links do: statuses without forwarding (5xx, 429
 * bursts, a registry that refuses chunked PATCH or mounts), connections reset mid-body,
 * request bodies capped (nginx 413), slowed or stalled, statuses rewritten (ECR's 201 on
 * PATCH), headers left out, reads redirected to storage. It logs every request so tests can assert what the client did.
 */
import { createServer, request as httpRequest, Agent, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export type Fault =
  /** Answer with this status instead of forwarding. */
  | { status: number; headers?: Record<string, string>; body?: string }
  /** Forward, then reset the client's connection once this many request body bytes went through. */
  | { resetAfterBytes: number }
  /** nginx `client_max_body_size`: 413 for larger bodies. */
  | { maxBodyBytes: number }
  /** Forward the request body at this rate. */
  | { bytesPerSecond: number }
  /** Forward this many body bytes, then stop reading (a link that went silent). */
  | { stallAfterBytes: number }
  /** Never answer (a registry that hangs): the client gives up, or is stopped. */
  | { hang: true }
  /** 307 to the same path at this origin (`http://host:port`), as registries on object storage do. */
  | { redirectTo: string }
  /** Forward, and answer `to` where the registry answered `from`. */
  | { rewriteStatus: { from: number; to: number } }
  /** Forward, and leave this response header out (lower case), as registries that do not send it. */
  | { withoutHeader: string };

export interface FaultRule {
  method?: string;
  /** Tested against the path with its query string. */
  url?: RegExp;
  /** Only requests with (true) or without (false) a Content-Range header. */
  ranged?: boolean;
  /** Only requests whose Content-Length is at least this. */
  minBytes?: number;
  /** Only requests whose Content-Range matches. */
  contentRange?: RegExp;
  /** How many matching requests get the fault; every one when unset. */
  times?: number;
  fault: Fault;
}

export interface ProxiedRequest {
  method: string;
  url: string;
  contentRange?: string;
  contentLength: number;
  /** Request body bytes that reached the registry. */
  bodyBytes: number;
  /** What the client was answered; undefined when its connection was cut. */
  status?: number;
}

export interface FaultProxy {
  /** "127.0.0.1:PORT" */
  host: string;
  log: ProxiedRequest[];
  /** Replaces the rules (and clears the log). */
  setFaults(rules: FaultRule[]): void;
  stop(): Promise<void>;
}

export async function startFaultProxy(upstream: string): Promise<FaultProxy> {
  const [upstreamHost, upstreamPort] = upstream.split(':');
  const agent = new Agent({ keepAlive: true });
  let rules: Array<FaultRule & { left: number }> = [];
  const log: ProxiedRequest[] = [];

  const take = (req: IncomingMessage): Fault | undefined => {
    const rule = rules.find(
      (r) =>
        r.left > 0 &&
        (!r.method || r.method === req.method) &&
        (!r.url || r.url.test(req.url ?? '')) &&
        (r.ranged === undefined || r.ranged === (req.headers['content-range'] !== undefined)) &&
        Number(req.headers['content-length'] ?? 0) >= (r.minBytes ?? 0) &&
        (!r.contentRange || r.contentRange.test(req.headers['content-range'] ?? '')),
    );
    if (rule) rule.left--;
    return rule?.fault;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const entry: ProxiedRequest = {
      method: req.method!,
      url: req.url!,
      contentRange: req.headers['content-range'],
      contentLength: Number(req.headers['content-length'] ?? 0),
      bodyBytes: 0,
    };
    log.push(entry);
    const fault = take(req);
    const answer = (status: number, headers: Record<string, string> = {}, body = '') => {
      entry.status = status;
      res.writeHead(status, { 'content-type': 'text/plain', ...headers });
      res.end(body);
      req.resume();
    };
    if (fault && 'status' in fault) return answer(fault.status, fault.headers, fault.body);
    if (fault && 'hang' in fault) return;
    if (fault && 'redirectTo' in fault) return answer(307, { location: `${fault.redirectTo}${req.url}` });
    if (fault && 'maxBodyBytes' in fault && Number(req.headers['content-length'] ?? 0) > fault.maxBodyBytes) {
      return answer(413, { 'content-type': 'text/html' }, '<html><head><title>413 Request Entity Too Large</title></head></html>');
    }

    const upstreamReq = httpRequest({
      host: upstreamHost,
      port: Number(upstreamPort),
      method: req.method,
      path: req.url,
      headers: req.headers,
      agent,
    });
    let cutOff = false;
    const cut = () => {
      cutOff = true;
      upstreamReq.destroy();
      req.socket.destroy();
    };
    // The client went away before its answer was complete.
    res.once('close', () => {
      if (!res.writableFinished) upstreamReq.destroy();
    });
    upstreamReq.once('error', () => {
      if (cutOff) return;
      if (!res.headersSent) answer(502, {}, 'bad gateway');
      else res.destroy();
    });
    upstreamReq.once('response', (upstreamRes) => {
      const status =
        fault && 'rewriteStatus' in fault && upstreamRes.statusCode === fault.rewriteStatus.from
          ? fault.rewriteStatus.to
          : upstreamRes.statusCode!;
      entry.status = status;
      const headers = { ...upstreamRes.headers };
      if (fault && 'withoutHeader' in fault) delete headers[fault.withoutHeader];
      res.writeHead(status, headers);
      upstreamRes.pipe(res);
    });

    for await (const chunk of req as AsyncIterable<Buffer>) {
      for (const piece of pieces(chunk, fault && 'bytesPerSecond' in fault ? Math.max(1, fault.bytesPerSecond / 20) : chunk.length)) {
        if (fault && 'resetAfterBytes' in fault && entry.bodyBytes + piece.length > fault.resetAfterBytes) {
          upstreamReq.write(piece.subarray(0, fault.resetAfterBytes - entry.bodyBytes));
          entry.bodyBytes = fault.resetAfterBytes;
          // Let the registry receive the partial body before both connections go.
          await sleep(50);
          return cut();
        }
        if (fault && 'stallAfterBytes' in fault && entry.bodyBytes + piece.length > fault.stallAfterBytes) {
          req.pause();
          return; // the client gives up and closes; 'close' then destroys the upstream request
        }
        if (fault && 'maxBodyBytes' in fault && entry.bodyBytes + piece.length > fault.maxBodyBytes) {
          upstreamReq.destroy();
          return answer(413);
        }
        entry.bodyBytes += piece.length;
        if (!upstreamReq.write(piece)) await new Promise((resolve) => upstreamReq.once('drain', resolve));
        if (fault && 'bytesPerSecond' in fault) await sleep((piece.length / fault.bytesPerSecond) * 1000);
      }
    }
    upstreamReq.end();
  };

  const server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    host: `127.0.0.1:${port}`,
    log,
    setFaults(next) {
      rules = next.map((rule) => ({ ...rule, left: rule.times ?? Infinity }));
      log.length = 0;
    },
    async stop() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      agent.destroy();
    },
  };
}

function* pieces(chunk: Buffer, size: number): Generator<Buffer> {
  for (let at = 0; at < chunk.length; at += size) yield chunk.subarray(at, at + size);
}
