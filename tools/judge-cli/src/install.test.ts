import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { createServer, type Server } from "node:http";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomScorerOnnx, scorerConfig } from "@grpomesh/judge";
import { runCli } from "./cli.ts";
import { redactUrl } from "./install.ts";

const dir = mkdtempSync(join(tmpdir(), "grpomesh-judge-install-"));
const config = scorerConfig({ d_model: 8, n_layer: 1, n_head: 1, d_ff: 8, seq_len: 16 });
const judgeA = randomScorerOnnx(config, { seed: 1, version: "a-v1" });
const judgeB = randomScorerOnnx(config, { seed: 2, version: "b-v1" });
const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const files = { a: join(dir, "a.onnx"), b: join(dir, "b.onnx"), text: join(dir, "notes.onnx") };
writeFileSync(files.a, judgeA);
writeFileSync(files.b, judgeB);
writeFileSync(files.text, "not a model at all\n");
let server: Server;
let base = "";
/** What the loopback server sent: path → request count. */
const hits = new Map<string, number>();

before(async () => {
  server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    hits.set(path, (hits.get(path) ?? 0) + 1);
    if (path === "/a.onnx") {
      res.writeHead(200, { "content-type": "application/octet-stream", "content-length": judgeA.length });
      res.end(judgeA);
    } else if (path === "/chunked.onnx") {
      // No Content-Length: the cap must hold while the body arrives.
      res.writeHead(200, { "content-type": "application/octet-stream" });
      res.write(judgeA.subarray(0, 1000));
      res.end(judgeA.subarray(1000));
    } else if (path === "/slow.onnx") {
      // Headers and a first piece, then nothing: only the timeout ends it.
      res.writeHead(200, { "content-type": "application/octet-stream", "content-length": judgeA.length });
      res.write(judgeA.subarray(0, 1000));
    } else {
      res.writeHead(404);
      res.end("no such model");
    }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const address = server.address();
  base = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
});

after(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  rmSync(dir, { recursive: true, force: true });
});

/** A fresh, empty model repository. */
function repository(name: string): string {
  const repo = join(dir, "repos", name);
  mkdirSync(repo, { recursive: true });
  return repo;
}

async function install(source: string, repo: string, ...flags: string[]): Promise<{ code: number; out: string; lines: string[] }> {
  const lines: string[] = [];
  const code = await runCli(["install", source, `--repository=${repo}`, ...flags], { out: (l) => lines.push(l) }, {});
  return { code, out: lines.join("\n"), lines };
}

/** Every file and folder under `root`, relative. */
function tree(root: string, prefix = ""): string[] {
  return readdirSync(join(root, prefix), { withFileTypes: true }).flatMap((e) => {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    return e.isDirectory() ? [rel + "/", ...tree(root, rel)] : [rel];
  });
}

test("install copies a judge into <name>/<version>/model.onnx, prints the path swap takes, and a re-run with the same bytes succeeds", async () => {
  const repo = repository("copy");
  const first = await install(files.a, repo, "--name=judge", "--version=2");
  assert.equal(first.code, 0, first.out);
  assert.equal(first.lines.at(-1), "judge/2/model.onnx");
  assert.match(first.out, /checked .*a\.onnx: a judge, version a-v1: int64 tokens \[batch, 16\], vocabulary of 75; loaded and scored a warm-up sequence/);
  assert.match(first.out, new RegExp(`installed ${repo}/judge/2/model\\.onnx \\(served as a-v1\\+sha256:${sha(judgeA).slice(0, 12)} `));
  assert.deepEqual(readFileSync(join(repo, "judge/2/model.onnx")), Buffer.from(judgeA));
  assert.deepEqual(tree(repo), ["judge/", "judge/2/", "judge/2/model.onnx"]); // no temporary file left

  const again = await install(files.a, repo, "--name=judge", "--version=2", `--sha256=${sha(judgeA).toUpperCase()}`);
  assert.equal(again.code, 0, again.out);
  assert.match(again.out, /already installed: .*judge\/2\/model\.onnx holds these bytes \(nothing was written\)/);
  assert.equal(again.lines.at(-1), "judge/2/model.onnx");
  assert.deepEqual(tree(repo), ["judge/", "judge/2/", "judge/2/model.onnx"]);
});

test("a different file is never installed over an existing version", async () => {
  const repo = repository("conflict");
  assert.equal((await install(files.a, repo, "--name=judge", "--version=1")).code, 0);
  await assert.rejects(
    install(files.b, repo, "--name=judge", "--version=1"),
    new RegExp(`judge/1/model\\.onnx exists with other bytes \\(sha256 ${sha(judgeA).slice(0, 12)}…, not ${sha(judgeB).slice(0, 12)}…\\).*--version=2`),
  );
  assert.deepEqual(readFileSync(join(repo, "judge/1/model.onnx")), Buffer.from(judgeA));
  assert.deepEqual(tree(repo), ["judge/", "judge/1/", "judge/1/model.onnx"]);
});

test("a wrong --sha256 is refused before anything is written", async () => {
  const repo = repository("sha");
  const wrong = sha(judgeB);
  await assert.rejects(
    install(files.a, repo, "--name=judge", "--version=1", `--sha256=${wrong}`),
    new RegExp(`a\\.onnx has sha256 ${sha(judgeA)}; expected ${wrong} \\(--sha256\\)\\. Nothing was installed`),
  );
  assert.deepEqual(tree(repo), []);
  await assert.rejects(install(files.a, repo, "--name=judge", "--version=1", "--sha256=abc123"), /sha256 "abc123" is not a sha256; expected 64 hex digits/);
});

test("a file that is not a judge is refused with the judges' reason and leaves nothing behind", async () => {
  const repo = repository("not-a-judge");
  await assert.rejects(
    install(files.text, repo, "--name=judge", "--version=1"),
    /judge model .*notes\.onnx refused: .*not an ONNX ModelProto.*; nothing was installed/,
  );
  assert.deepEqual(tree(repo), []);
  // An existing version folder stays, without the temporary file.
  mkdirSync(join(repo, "judge/3"), { recursive: true });
  await assert.rejects(install(files.text, repo, "--name=judge", "--version=3"), /refused/);
  assert.deepEqual(tree(repo), ["judge/", "judge/3/"]);
});

test("an http URL is fetched (loopback), capped in size, and an error status is explained", async () => {
  const repo = repository("url");
  const fetched = await install(`${base}/a.onnx?X-Signature=secret`, repo, "--name=judge", "--version=1", `--sha256=${sha(judgeA)}`);
  assert.equal(fetched.code, 0, fetched.out);
  assert.match(fetched.out, new RegExp(`fetched ${base}/a\\.onnx\\?…: \\d+ bytes in`));
  assert.doesNotMatch(fetched.out, /secret/); // a pre-signed URL's signature stays out of the logs
  assert.equal(fetched.lines.at(-1), "judge/1/model.onnx");
  assert.deepEqual(readFileSync(join(repo, "judge/1/model.onnx")), Buffer.from(judgeA));
  assert.equal(hits.get("/a.onnx"), 1);

  const cap = `--max_model_bytes=${judgeA.length - 1}`;
  await assert.rejects(install(`${base}/a.onnx`, repo, "--name=judge", "--version=2", cap), /\d+ bytes \(Content-Length\), more than --max_model_bytes=/);
  await assert.rejects(install(`${base}/chunked.onnx`, repo, "--name=judge", "--version=2", cap), /more than \d+ bytes \(still arriving\)/);
  await assert.rejects(install(`${base}/missing.onnx`, repo, "--name=judge", "--version=2"), /the server answered HTTP 404 Not Found; expected 200/);
  await assert.rejects(
    install(`${base}/slow.onnx`, repo, "--name=judge", "--version=2", "--fetch_timeout_ms=300"),
    /slow\.onnx: no complete answer within 300 ms \(--fetch_timeout_ms\) after 1000 bytes/,
  );
  const closed = createServer();
  await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
  const closedPort = (closed.address() as { port: number }).port;
  await new Promise((r) => closed.close(r));
  await assert.rejects(install(`http://127.0.0.1:${closedPort}/a.onnx`, repo, "--name=judge", "--version=2"), /failed before an answer: ECONNREFUSED/);
  assert.equal((await install(`${base}/chunked.onnx`, repo, "--name=judge", "--version=2")).code, 0);
  assert.deepEqual(tree(repo), ["judge/", "judge/1/", "judge/1/model.onnx", "judge/2/", "judge/2/model.onnx"]);
});

test("bad names, versions, sources and repositories are refused with what is allowed", async () => {
  const repo = repository("names");
  for (const name of ["../judges", "a/b", ".hidden", "..", "-x", "x".repeat(101), ""])
    await assert.rejects(install(files.a, repo, `--name=${name}`, "--version=1"), /name|--name=NAME/, `name ${name}`);
  for (const version of ["0", "01", "v2", "../1", "1/2", "1234567890", ""])
    await assert.rejects(install(files.a, repo, "--name=judge", `--version=${version}`), /version|--version=N/, `version ${version}`);
  await assert.rejects(install(files.a, repo, "--name=a/b", "--version=1"), /name "a\/b" is not a folder name; expected letters, digits/);
  await assert.rejects(install(files.a, repo, "--name=judge", "--version=v2"), /version "v2" is not a version folder; expected a positive integer/);
  await assert.rejects(install(join(dir, "nope.onnx"), repo, "--name=judge", "--version=1"), /nope\.onnx does not exist/);
  await assert.rejects(
    install("s3://bucket/model.onnx", repo, "--name=judge", "--version=1"),
    /uses a scheme install cannot read; give an https:\/\/ or http:\/\/ URL/,
  );
  await assert.rejects(install(files.a, join(dir, "no-such-repo"), "--name=judge", "--version=1"), /no-such-repo is not a directory/);
  await assert.rejects(
    runCli(["install", files.a, files.b, `--repository=${repo}`, "--name=judge", "--version=1"], { out: () => {} }, {}),
    /install takes one source; got also/,
  );
  assert.deepEqual(tree(repo), []);
  assert.ok(!existsSync(join(dir, "judges")));
});

test("redactUrl keeps the origin and path only", () => {
  assert.equal(redactUrl("https://user:pw@models.example/j/2/model.onnx?sig=abc#x"), "https://models.example/j/2/model.onnx?…");
  assert.equal(redactUrl("http://127.0.0.1:8080/m.onnx"), "http://127.0.0.1:8080/m.onnx");
});
