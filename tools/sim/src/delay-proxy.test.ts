import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, connect, type AddressInfo, type Socket } from "node:net";
import { startDelayProxy } from "./delay-proxy.ts";

/** An echo server on loopback. */
async function echoServer() {
  const server = createServer((s) => s.pipe(s));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return { port: (server.address() as AddressInfo).port, close: () => new Promise<void>((r) => server.close(() => r())) };
}

function roundTrip(port: number, payload: Buffer): Promise<{ ms: number; data: Buffer }> {
  return new Promise((resolve, reject) => {
    const t = performance.now();
    const chunks: Buffer[] = [];
    let got = 0;
    const s: Socket = connect({ host: "127.0.0.1", port }, () => {
      // in pieces, so order across chunks is tested
      for (let o = 0; o < payload.length; o += 7919) s.write(payload.subarray(o, o + 7919));
    });
    s.on("data", (c: Buffer) => {
      chunks.push(c);
      got += c.length;
      if (got >= payload.length) {
        const ms = performance.now() - t;
        s.end();
        resolve({ ms, data: Buffer.concat(chunks) });
      }
    });
    s.on("error", reject);
  });
}

test("the proxy adds its delay in each direction and forwards every byte in order", async () => {
  const echo = await echoServer();
  const direct = await startDelayProxy({ listenHost: "127.0.0.1", listenPort: 0, targetHost: "127.0.0.1", targetPort: echo.port, delayMs: 0 });
  const delayed = await startDelayProxy({ listenHost: "127.0.0.1", listenPort: 0, targetHost: "127.0.0.1", targetPort: echo.port, delayMs: 40 });
  try {
    const payload = Buffer.alloc(300_000);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 31 + (i >> 8)) & 0xff;
    const a = await roundTrip(direct.port, payload);
    const b = await roundTrip(delayed.port, payload);
    assert.ok(a.data.equals(payload), "bytes intact through the undelayed proxy");
    assert.ok(b.data.equals(payload), "bytes intact and in order through the delayed proxy");
    assert.ok(b.ms >= 80, `a round trip through a 40 ms proxy takes at least 80 ms; took ${b.ms.toFixed(1)}`);
    assert.equal(delayed.connections, 1);
    assert.equal(delayed.bytes, 2 * payload.length);
    // the delay shows against the undelayed proxy: the quickest of a few small round trips, so a busy machine's stalls do not count
    const quickest = async (port: number) => {
      let ms = Infinity;
      for (let i = 0; i < 3; i++) ms = Math.min(ms, (await roundTrip(port, Buffer.from("ping"))).ms);
      return ms;
    };
    const [d, l] = [await quickest(direct.port), await quickest(delayed.port)];
    assert.ok(l >= 80 && l - d >= 40, `a small round trip: ${l.toFixed(1)} ms delayed vs ${d.toFixed(1)} ms undelayed`);
  } finally {
    // also after a failed assertion: a server left listening would keep the test process alive
    await Promise.all([direct.close(), delayed.close(), echo.close()]);
  }
});

test("a closed upstream closes the client; close() ends open connections", async () => {
  const server = createServer((s) => s.end("bye"));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const proxy = await startDelayProxy({
    listenHost: "127.0.0.1",
    listenPort: 0,
    targetHost: "127.0.0.1",
    targetPort: (server.address() as AddressInfo).port,
    delayMs: 10,
  });
  try {
    const text = await new Promise<string>((resolve, reject) => {
      let out = "";
      const s = connect({ host: "127.0.0.1", port: proxy.port });
      s.on("data", (c) => (out += c));
      s.on("end", () => resolve(out));
      s.on("error", reject);
    });
    assert.equal(text, "bye");
    const open = connect({ host: "127.0.0.1", port: proxy.port });
    await new Promise((r) => open.once("connect", r));
    const closed = new Promise((r) => open.once("close", r));
    await proxy.close();
    await closed;
  } finally {
    await proxy.close(); // again after the test's own close: it resolves
    await new Promise<void>((r) => server.close(() => r()));
  }
  await assert.rejects(startDelayProxy({ listenHost: "127.0.0.1", listenPort: 0, targetHost: "x", targetPort: 1, delayMs: -1 }), /delay is -1 ms/);
});
