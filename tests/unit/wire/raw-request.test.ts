/** rawRequest(): whole-body HTTP/1.1 on a raw socket, against real servers on loopback. */
import { describe, expect, test } from "bun:test";
import { rawRequest } from "../../../lib/wire/raw-request.ts";

/** A tiny HTTP server on Bun.listen that answers with `reply(requestText, connectionNumber)`. */
function rawServer(reply: (request: string, connection: number) => string | null): { port: number; connections: () => number; stop: () => void } {
  let connections = 0;
  const server = Bun.listen<{ id: number; buffer: string }>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open(socket) {
        socket.data = { id: ++connections, buffer: "" };
      },
      data(socket, chunk) {
        socket.data.buffer += chunk.toString();
        const end = socket.data.buffer.indexOf("\r\n\r\n");
        if (end < 0) return;
        const length = Number(/content-length: *(\d+)/i.exec(socket.data.buffer)?.[1] ?? 0);
        if (socket.data.buffer.length < end + 4 + length) return;
        const request = socket.data.buffer.slice(0, end + 4 + length);
        socket.data.buffer = "";
        const answer = reply(request, socket.data.id);
        if (answer === null) socket.end();
        else socket.write(answer);
      },
    },
  });
  return { port: server.port, connections: () => connections, stop: () => server.stop(true) };
}

describe("rawRequest()", () => {
  test("sends the body of a GET, reads Content-Length and chunked answers, reuses the connection", async () => {
    const server = rawServer((request) => {
      const body = request.slice(request.indexOf("\r\n\r\n") + 4);
      if (body === "chunked") return "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
      return `HTTP/1.1 404 Not Found\r\nContent-Length: ${body.length + 2}\r\n\r\n[${body}]`;
    });
    try {
      const first = await rawRequest("127.0.0.1", server.port, "/x", { method: "GET", body: '{"a":1}' });
      expect([first.status, first.body.toString()]).toEqual([404, '[{"a":1}]']);
      const second = await rawRequest("127.0.0.1", server.port, "/x", { method: "GET", body: "chunked" });
      expect([second.status, second.body.toString()]).toEqual([200, "abcde"]);
      expect(server.connections()).toBe(1);
    } finally {
      server.stop();
    }
  });

  test("a kept-alive connection the server dropped is replaced once, transparently", async () => {
    let onFirst = 0;
    // The first connection answers once, then closes on the next request without answering.
    const server = rawServer((_request, connection) => (connection === 1 && onFirst++ > 0 ? null : "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"));
    try {
      expect((await rawRequest("127.0.0.1", server.port, "/", { method: "GET" })).body.toString()).toBe("ok");
      const again = await rawRequest("127.0.0.1", server.port, "/", { method: "GET" });
      expect([again.status, again.body.toString(), server.connections()]).toEqual([200, "ok", 2]);
    } finally {
      server.stop();
    }
  });

  test("a server that cuts the connection mid-answer, or never answers, is an error", async () => {
    const cutting = rawServer(() => null);
    const silent = rawServer(() => "");
    try {
      await expect(rawRequest("127.0.0.1", cutting.port, "/", { method: "PUT", body: "x" })).rejects.toThrow("cut before the answer was complete");
      await expect(rawRequest("127.0.0.1", silent.port, "/", { method: "GET", timeoutMs: 200 })).rejects.toThrow("timed out after 200 ms");
      await expect(rawRequest("127.0.0.1", 9, "/", { method: "GET" })).rejects.toMatchObject({ code: "ECONNREFUSED" });
    } finally {
      cutting.stop();
      silent.stop();
    }
  });
});
