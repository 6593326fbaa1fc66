/**
 * The server half of WebSocket (RFC 6455) that a log stream needs: the handshake answer and
 * unmasked binary frames from server to client, then a close frame. Messages from the client
 * are not read (a reader only listens).
 * @module
 */
import { createHash } from "node:crypto";
import { HttpStatus } from "../wire/http-status.ts";

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/** The `Sec-WebSocket-Accept` value for a client's `Sec-WebSocket-Key`. */
export function webSocketAccept(key: string): string {
  return createHash("sha1").update(key + GUID).digest("base64");
}

/** The 101 answer that completes the handshake. */
export function webSocketHandshake(key: string): string {
  return `HTTP/1.1 ${HttpStatus.switchingProtocols} Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${webSocketAccept(key)}\r\n\r\n`;
}

/** One unfragmented, unmasked frame: binary (0x2) by default, close (0x8) for the end. */
export function webSocketFrame(payload: Uint8Array, opcode = 0x2): Uint8Array {
  const length = payload.byteLength;
  const header = length < 126 ? Buffer.from([0x80 | opcode, length])
    : length < 65536 ? Buffer.from([0x80 | opcode, 126, length >> 8, length & 0xff])
    : (() => {
      const h = Buffer.alloc(10);
      h[0] = 0x80 | opcode;
      h[1] = 127;
      h.writeBigUInt64BE(BigInt(length), 2);
      return h;
    })();
  return Buffer.concat([header, payload]);
}

/** The close frame with status 1000 (normal closure). */
export function webSocketCloseFrame(): Uint8Array {
  return webSocketFrame(Buffer.from([0x03, 0xe8]), 0x8);
}
