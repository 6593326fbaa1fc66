/**
 * A streaming HTTP/1.1 GET on a raw socket, for large downloads: Bun's `fetch` and `node:http`
 * clients receive at ~200 MB/s here while a raw socket reaches ~540 MB/s (BENCHMARKS.md).
 * Handles `Content-Length` bodies only; anything else (chunked, redirects) is reported as
 * `unsupported` so the caller can use the ordinary client.
 * @module
 */

/** The outcome of {@link streamGet}. */
export type RawGetOutcome =
  | { kind: "done"; status: number; bytes: number }
  | { kind: "status"; status: number; body: string }
  | { kind: "unsupported" };

/**
 * GETs `path` and hands body chunks to `onChunk` as they arrive (only for status 200).
 *
 * @throws the socket error, or an Error when the body ends short of its Content-Length
 */
export function streamGet(host: string, port: number, path: string, onChunk: (chunk: Uint8Array) => void): Promise<RawGetOutcome> {
  return new Promise((resolve, reject) => {
    let head: Buffer = Buffer.alloc(0);
    let status = 0;
    let expected = -1;
    let received = 0;
    let streaming = false;
    let errorBody = "";
    let settled = false;
    const settle = (fn: () => void) => {
      if (!settled) {
        settled = true;
        fn();
      }
    };
    const onBody = (chunk: Uint8Array) => {
      received += chunk.byteLength;
      if (status === 200) onChunk(chunk);
      else errorBody += Buffer.from(chunk).toString("utf8");
    };
    Bun.connect({
      hostname: host,
      port,
      socket: {
        open(socket) {
          socket.write(`GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nConnection: close\r\nAccept-Encoding: identity\r\n\r\n`);
        },
        data(socket, chunk) {
          try {
            if (!streaming) {
              head = Buffer.concat([head, chunk]);
              const end = head.indexOf("\r\n\r\n");
              if (end < 0) return;
              const lines = head.subarray(0, end).toString("latin1").split("\r\n");
              status = Number(lines[0]!.split(" ")[1]);
              const headers = new Map(lines.slice(1).map((line) => {
                const colon = line.indexOf(":");
                return [line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()] as const;
              }));
              if (!headers.has("content-length") || headers.get("transfer-encoding")) {
                socket.end();
                settle(() => resolve({ kind: "unsupported" }));
                return;
              }
              expected = Number(headers.get("content-length"));
              streaming = true;
              const rest = head.subarray(end + 4);
              if (rest.byteLength > 0) onBody(rest);
            } else onBody(chunk);
            if (expected >= 0 && received >= expected) socket.end();
          } catch (error) {
            socket.end();
            settle(() => reject(error));
          }
        },
        close() {
          if (!streaming) return settle(() => reject(new Error("connection closed before the response headers")));
          if (received < expected) return settle(() => reject(new Error(`download ended after ${received} of ${expected} bytes`)));
          settle(() => resolve(status === 200 ? { kind: "done", status, bytes: received } : { kind: "status", status, body: errorBody }));
        },
        error(_socket, error) {
          settle(() => reject(error));
        },
        connectError(_socket, error) {
          settle(() => reject(error));
        },
      },
    }).catch((error) => settle(() => reject(error)));
  });
}
